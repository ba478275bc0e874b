import type { ShrinkrayReport } from '../compress/report.ts';
import { SITE_MODEL_DIR, type SiteManifest } from '../site/site-manifest.ts';

/** The exported demo site's README.md: what it is, how it was made, how to publish it. */
export function siteReadme(site: SiteManifest, report: ShrinkrayReport | null): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  const made = report
    ? [
        `- Recipe: \`${report.recipe}\`${report.recipeText !== report.recipe ? ` (written as \`${report.recipeText}\`)` : ''}`,
        `- Source: ${site.source ?? report.from}`,
        `- Weights: ${mb(report.bytesOut)}, from ${mb(report.bytesIn)} (${(report.bytesIn / Math.max(1, report.bytesOut)).toFixed(2)}x smaller)`,
        `- Parameters: ${report.paramsOut.toLocaleString('en')} of ${report.paramsIn.toLocaleString('en')}`,
        ...(report.calibration
          ? [
              `- Calibrated on ${report.calibration.name}: ${report.calibration.windows} windows of ${report.calibration.windowLength} tokens`,
            ]
          : []),
        `- Compressed in ${report.seconds.toFixed(1)} s`,
      ]
    : ['- The model folder has no shrinkray.json, so its recipe and figures are not known.'];
  return `# ${site.title}: an on-device chat demo

This folder is a static web site that runs a language model inside the visitor's browser tab.
Nothing typed into it leaves the device: the page downloads the model once, keeps it for
offline use, and runs it in a Web Worker ${
    site.engine === 'auto'
      ? "on the visitor's GPU through onnxruntime-web's WebGPU where there is one, else on Shrinkray's CPU engine (WebAssembly SIMD)"
      : "on Shrinkray's CPU engine (WebAssembly SIMD)"
  }.

It was exported by Shrinkray on ${site.exported.slice(0, 10)}.

## The model

${made.join('\n')}

\`${SITE_MODEL_DIR}\` holds the compressed model as a folder in transformers.js layout
(\`config.json\`, the tokenizer files, \`onnx/model.onnx\`); \`site.json\` says the same as this
section, for the page.

## Publishing it

Copy the whole folder to any static host (GitHub Pages, Netlify, an S3 bucket, any web
server), at its root or under a sub-path, and open its address. Locally:
\`npx vite preview --outDir .\` or \`python3 -m http.server\` in this folder, then open the
address it prints (a service worker needs http://localhost or https://).

- **Threads.** The engine runs several threads only in a cross-origin isolated page. The
  site's service worker (\`sw.js\`) adds the two headers that make it so
  (\`Cross-Origin-Opener-Policy: same-origin\`, \`Cross-Origin-Embedder-Policy: require-corp\`),
  so the page reloads itself once on its first visit; a host that sends them itself needs no reload.
- **Offline.** After the first visit the page, its runtime and the model are kept by the
  service worker: it opens and chats with no network.
- Opening \`index.html\` from the file system (\`file://\`) does not work: browsers give such
  pages no service worker and refuse their module scripts.
`;
}
