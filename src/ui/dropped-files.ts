import type { LocalFile } from '../worker/client.ts';

/**
 * Files from a file input or a drop, with their paths inside the chosen folder. A folder
 * picker gives webkitRelativePath; a dropped folder has to be walked entry by entry
 * (FileSystemDirectoryEntry), since DataTransfer.files lists only the top level.
 */
export function inputFiles(list: FileList | null): LocalFile[] {
  return [...(list ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

function readBatch(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function walk(entry: FileSystemEntry, out: LocalFile[]): Promise<void> {
  if (entry.isFile) {
    out.push({ path: entry.fullPath.replace(/^\//, ''), file: await fileOf(entry as FileSystemFileEntry) });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries returns at most ~100 entries per call: read until it returns none.
  for (let batch = await readBatch(reader); batch.length > 0; batch = await readBatch(reader)) {
    for (const child of batch) await walk(child, out);
  }
}

export async function droppedFiles(data: DataTransfer): Promise<LocalFile[]> {
  // Entries must be taken synchronously, before the first await: the DataTransfer empties after the event.
  const entries = [...data.items].map((item) => item.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return inputFiles(data.files);
  const out: LocalFile[] = [];
  for (const e of entries) await walk(e, out);
  return out;
}
