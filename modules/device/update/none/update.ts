// device/update where the board has no update API (Moddable's simulator, desktop builds): nothing can be
// written, so a job fails at its download with this reason, and there is never a previous image.
export const TARGET = "none";

export class UpdateImage {
  constructor() {
    throw new Error("this board has no update API");
  }
  write(_data: ArrayBuffer): void {}
  cancel(): void {}
  complete(): void {}
}

export function markValid(): void {}

export function rollback(): void {
  throw new Error("this board has no previous image");
}

export function restart(): void {
  throw new Error("this board cannot restart itself");
}
