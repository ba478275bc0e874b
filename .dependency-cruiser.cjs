// The layer rules of README "Layout" and DESIGN "Dependency rules", checked by `npm run deps`
// (scripts/test.sh runs it). A violation prints the rule's name and its comment; fix the import,
// not the rule. Data flows one way: fetch -> formats/model -> compress -> build -> store -> runtime,
// wired together only in worker/ (browser) and cli/ + node/ (Node); a job both run (compress into a
// folder, open an engine) is written once in jobs/ and given a sink or host by each side.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'kernels-pure',
      severity: 'error',
      comment: 'src/kernels/ is pure numerics: it imports other kernels and src/errors.ts, nothing else from src/.',
      from: { path: '^src/kernels/' },
      to: { path: '^src/', pathNot: ['^src/kernels/', '^src/errors\\.ts$'] },
    },
    {
      name: 'formats-pure',
      severity: 'error',
      comment:
        'src/formats/ parses and writes files: it imports other formats, src/errors.ts, pure numerics from src/kernels/ (the fp16 converter) and (type-only) src/model/.',
      from: { path: '^src/formats/' },
      to: { path: '^src/', pathNot: ['^src/(formats|kernels)/', '^src/errors\\.ts$', '^src/model/'] },
    },
    {
      name: 'formats-model-types-only',
      severity: 'error',
      comment: 'src/formats/ may name model types (import type { ... }) but never run model code.',
      from: { path: '^src/formats/' },
      to: { path: '^src/model/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'model-below-stages',
      severity: 'error',
      comment: 'src/model/ (ModelIR, tensor table, config, reference forward) imports only errors, formats, kernels and model.',
      from: { path: '^src/model/' },
      to: { path: '^src/', pathNot: ['^src/(model|formats|kernels)/', '^src/errors\\.ts$'] },
    },
    {
      name: 'build-below-compress',
      severity: 'error',
      comment: 'src/build/ (ModelIR -> ONNX) imports only errors, formats, kernels, model and build.',
      from: { path: '^src/build/' },
      to: { path: '^src/', pathNot: ['^src/(build|model|formats|kernels)/', '^src/errors\\.ts$'] },
    },
    {
      name: 'compress-no-io',
      severity: 'error',
      comment:
        'src/compress/ imports only errors, formats, kernels, model, build and compress: never fetch, store, runtime, worker, ui, cli or node.',
      from: { path: '^src/compress/' },
      to: { path: '^src/', pathNot: ['^src/(compress|build|model|formats|kernels)/', '^src/errors\\.ts$'] },
    },
    {
      name: 'engine-below-runtime',
      severity: 'error',
      comment:
        'src/engine/ (the CPU engine: WASM SIMD kernels, KV cache, threads) imports only errors, formats (the ONNX graph reader), kernels (fp16), model (config, tensor table, CausalLM) and engine; the worker and the CLI wire it in beside runtime/.',
      from: { path: '^src/engine/' },
      to: { path: '^src/', pathNot: ['^src/(engine|model|formats|kernels)/', '^src/errors\\.ts$'] },
    },
    {
      name: 'fetch-store-runtime-apart',
      severity: 'error',
      comment: 'src/fetch/, src/store/ and src/runtime/ never import one another nor compress/: only src/worker/ wires them together.',
      from: { path: '^src/(fetch|store|runtime)/' },
      to: { path: '^src/(fetch|store|runtime|compress)/', pathNot: '^src/$1/' },
    },
    {
      name: 'jobs-host-free',
      severity: 'error',
      comment:
        'src/jobs/ holds the jobs written once for the page and the CLI: it imports the stages, never a host (worker, ui, cli, node) nor store/ or fetch/: the host hands it a sink.',
      from: { path: '^src/jobs/' },
      to: { path: '^src/(worker|ui|cli|node|store|fetch)/' },
    },
    {
      name: 'only-wiring-imports-worker',
      severity: 'error',
      comment:
        'src/worker/ is the top of the browser stack: only worker/ and ui/ import it (ui through client.ts and protocol types), and lib/ the few pieces it shares with the app (see lib-uses-worker-pieces).',
      from: { path: '^src/', pathNot: '^src/(worker|ui|lib)/' },
      to: { path: '^src/worker/' },
    },
    {
      name: 'lib-uses-worker-pieces',
      severity: 'error',
      comment:
        "src/lib/ (the library: createEngine from 'shrinkray') runs the app's own pieces, not copies: from worker/ only the cancel and error plumbing, the page's engine host (chat-model.ts), stored models, picked-file paths and protocol types; never a worker script or the app's client.",
      from: { path: '^src/lib/' },
      to: {
        path: '^src/worker/',
        pathNot: '^src/worker/(cancel|errors|chat-model|stored-model|local-import|protocol)\\.ts$',
      },
    },
    {
      name: 'lib-is-the-public-entry',
      severity: 'error',
      comment:
        "src/lib/ is the package's public entry (package.json exports): it sits on top of jobs/, runtime/, engine/, store/, formats/, model/, fetch/ and errors. Nothing in src/ imports it but lib/ itself, ui/ and site/ (the exported demo site's page, built on the library); lib/ never imports ui/ or cli/.",
      from: { path: '^src/', pathNot: '^src/(lib|ui|site)/' },
      to: { path: '^src/lib/' },
    },
    {
      name: 'site-on-the-library',
      severity: 'error',
      comment:
        "src/site/ is the exported demo site's page and service worker: it runs the model through lib/ (as any page built on the library would) and imports only lib/, its own files, errors and the isolation headers of pwa/.",
      from: { path: '^src/site/' },
      to: { path: '^src/', pathNot: ['^src/(site|lib)/', '^src/errors\\.ts$', '^src/pwa/isolation-headers\\.ts$'] },
    },
    {
      name: 'lib-below-ui',
      severity: 'error',
      comment: 'src/lib/ never imports the app (ui/) or the CLI (cli/): both are built on top of it, not under it.',
      from: { path: '^src/lib/' },
      to: { path: '^src/(ui|cli)/' },
    },
    {
      name: 'ui-through-client',
      severity: 'error',
      comment:
        "src/ui/ imports only src/worker/client.ts, types from src/worker/protocol.ts, the library's entry (src/lib/index.ts and its types in src/lib/engine-api.ts, for a page built on createEngine), other ui files, npm packages and CSS.",
      from: { path: '^src/ui/' },
      to: {
        path: '^src/',
        pathNot: ['^src/ui/', '^src/worker/client\\.ts$', '^src/worker/protocol\\.ts$', '^src/lib/(index|engine-api)\\.ts$'],
      },
    },
    {
      name: 'ui-protocol-types-only',
      severity: 'error',
      comment: 'src/ui/ may name the protocol types (import type { ... } from worker/protocol.ts) but not run worker code.',
      from: { path: '^src/ui/' },
      to: { path: '^src/worker/protocol\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'src-not-tests-or-scripts',
      severity: 'error',
      comment: 'Nothing in src/ imports test/, bench/ or scripts/: they depend on src, never the other way.',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts)/' },
    },
    {
      name: 'node-builtins-in-node-and-cli',
      severity: 'error',
      comment:
        "node: builtins only in src/node/, src/cli/ and the library's Node entry (src/lib/node.ts): everything else runs in the browser too.",
      from: { path: '^src/', pathNot: ['^src/(node|cli)/', '^src/lib/node\\.ts$'] },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'node-folder-for-node-only',
      severity: 'error',
      comment:
        "src/node/ (the Node side of worker/: file access, Node workers, hosts for the shared jobs) is imported only by src/cli/, src/node/ and the library's Node entry src/lib/node.ts (others may name its types): browser code must not pull it in.",
      from: { path: '^src/', pathNot: ['^src/(node|cli)/', '^src/lib/node\\.ts$'] },
      to: { path: '^src/node/', dependencyTypesNot: ['type-only', 'type-import'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles in src/: each file sits below the files that import it.',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Keep type-only imports in the graph (they are checked by the *-types-only rules above).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // The AssemblyScript sources are compiled to wasm, not imported.
    exclude: { path: ['^src/kernels/wasm/(assembly|build)/', '^src/(kernels|engine)/.*/?(assembly|build)/'] },
  },
};
