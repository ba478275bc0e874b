import { describe, expect, it } from 'vitest';
import { isModelUrl, modelFolderUrl, urlModelId, urlModelName } from '../../src/fetch/model-url.ts';
import { validateManifest, type ModelManifest } from '../../src/store/manifest.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

/** A share link's folder URL as the page and the worker both spell it, its short name, and the manifest's 'url' source. */
describe('share-link folder URLs', () => {
  it('normalises a folder URL: trailing slash, no query or fragment, config.json taken as its folder', () => {
    expect(isModelUrl(' https://example.org/m/')).toBe(true);
    expect(isModelUrl('HuggingFaceTB/SmolLM2-135M')).toBe(false);
    expect(modelFolderUrl('https://example.org/site/model')).toBe('https://example.org/site/model/');
    expect(modelFolderUrl('https://example.org/site/model/config.json?v=2#x')).toBe('https://example.org/site/model/');
    expect(modelFolderUrl('http://127.0.0.1:8080/a%20b/')).toBe('http://127.0.0.1:8080/a%20b/');
    expectShrinkrayError(
      () => modelFolderUrl('ftp://example.org/m/'),
      'bad_argument',
      'model link ftp://example.org/m/ must be http: or https:, not ftp:',
    );
    expectShrinkrayError(() => modelFolderUrl('https://'), 'bad_argument', 'model link "https://" is not a URL');
    expect(urlModelId('https://example.org/m/')).toBe('url:https://example.org/m/');
  });

  it('names a hub subfolder (a hub URL /org/repo/resolve/main/sub/, as the loopback hub serves it) org/repo/sub, an exported site model/ with its site, other folders by their last part', () => {
    expect(urlModelName('http://127.0.0.1:8080/me/demos/resolve/main/stories-int4/')).toBe('me/demos/stories-int4');
    expect(urlModelName('http://127.0.0.1:8080/me/demos/resolve/main/')).toBe('me/demos');
    expect(urlModelName('https://me.github.io/chat-demo/model/')).toBe('chat-demo/model');
    expect(urlModelName('https://cdn.example.org/models/tiny%20llama/')).toBe('tiny llama');
    expect(urlModelName('https://example.org/')).toBe('example.org');
  });

  it("a manifest's source is one of the known kinds; a 'url' source holds an http(s) URL", () => {
    const manifest = (source: unknown): ModelManifest =>
      ({ id: 'url:x', source, files: [{ path: 'config.json', fileId: 'f', size: 1, sha256: '0'.repeat(64) }] }) as ModelManifest;
    validateManifest(manifest({ kind: 'url', url: 'https://example.org/m/' }));
    expectShrinkrayError(
      () => validateManifest(manifest({ kind: 'url', url: 'file:///m/' })),
      'bad_argument',
      /source url "file:\/\/\/m\/" must be/,
    );
    expectShrinkrayError(
      () => validateManifest(manifest({ kind: 'ftp' })),
      'bad_argument',
      /source kind 'ftp' is not one of hub, local, demo, compressed, url/,
    );
  });
});
