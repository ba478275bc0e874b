import { fsError, openUserFile } from './fs-errors.ts';

/**
 * A text file a user named (--calib), read as UTF-8 in blocks of `blockBytes`, for readers
 * that need only its beginning: stopping the loop closes the file, and no more of it is read.
 * The path is checked to be a regular file of at most `maxBytes` before it is opened (opening
 * a FIFO would block until a writer came), as readUserFile checks it.
 */
export async function* userTextBlocks(path: string, what: string, maxBytes: number, blockBytes = 1024 * 1024): AsyncGenerator<string> {
  let handle;
  try {
    handle = await openUserFile(path, what, maxBytes);
  } catch (e) {
    throw fsError(e, path, what);
  }
  try {
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true }); // a BOM kept, invalid bytes U+FFFD: as Buffer.toString did
    const buffer = new Uint8Array(blockBytes);
    for (let read = 0; read < maxBytes;) {
      let n: number;
      try {
        ({ bytesRead: n } = await handle.read(buffer, 0, Math.min(blockBytes, maxBytes - read)));
      } catch (e) {
        throw fsError(e, path, what);
      }
      if (n === 0) break;
      read += n;
      yield decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    yield decoder.decode();
  } finally {
    await handle.close();
  }
}
