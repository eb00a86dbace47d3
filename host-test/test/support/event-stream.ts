// Reads a kitchen page's server-sent events the way the page does: every "event: …" frame with JSON data.

export interface EventFrame {
  event: string;
  data: any;
}

/** Collects the frames of `res` (a fetch Response) into the returned array until the stream ends or aborts. */
export function collectFrames(res: Response): { frames: EventFrame[]; done: Promise<void> } {
  const frames: EventFrame[] = [];
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const event = /^event: (.+)$/m.exec(frame)?.[1];
          const data = /^data: (.+)$/m.exec(frame)?.[1];
          if (event && data) frames.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { frames, done };
}
