import { card, el, factTable } from './element.ts';

/** Where `npm run fixtures` writes the bundled demo model (git-ignored, never committed). */
const demoConfigUrl = '/models/stories260K/config.json';

/** The few config.json fields this card shows; the real parsing lives in src/formats. */
interface DemoConfigJson {
  hidden_size?: number;
  intermediate_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  vocab_size?: number;
  max_position_embeddings?: number;
  tie_word_embeddings?: boolean;
}

/** The bundled demo model card: its shape when generated, otherwise how to generate it. */
export function demoModelView(): HTMLElement {
  const { root, body } = card('Bundled demo model: stories260K');
  void loadDemoConfig().then((config) => body.replaceChildren(...(config ? presentView(config) : missingView())));
  return root;
}

async function loadDemoConfig(): Promise<DemoConfigJson | null> {
  try {
    const res = await fetch(demoConfigUrl);
    // The dev server answers unknown paths with index.html (status 200), so check the type.
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return null;
    return (await res.json()) as DemoConfigJson;
  } catch {
    return null;
  }
}

/**
 * Parameters of a Llama-family decoder from its config: a display figure only, so the
 * page can show the size before any weights are fetched.
 */
function countParameters(c: Required<DemoConfigJson>): number {
  const d = c.hidden_size;
  const kvDim = (d / c.num_attention_heads) * c.num_key_value_heads;
  const perLayer = 2 * d * d + 2 * kvDim * d + 3 * d * c.intermediate_size + 2 * d; // q,o + k,v + gate,up,down + 2 norms
  const embeddings = c.vocab_size * d * (c.tie_word_embeddings ? 1 : 2);
  return embeddings + c.num_hidden_layers * perLayer + d;
}

function presentView(config: DemoConfigJson): HTMLElement[] {
  const c = { tie_word_embeddings: true, max_position_embeddings: 0, ...config } as Required<DemoConfigJson>;
  const params = countParameters(c);
  return [
    factTable([
      ['Hidden size (dim)', c.hidden_size],
      ['FFN size', c.intermediate_size],
      ['Layers', c.num_hidden_layers],
      ['Attention heads', `${c.num_attention_heads} (${c.num_key_value_heads} key/value heads)`],
      ['Vocabulary', c.vocab_size],
      ['Context length', c.max_position_embeddings || 'unknown'],
      ['Parameters', `${params.toLocaleString('en-US')} (${(params * 4 / 2 ** 20).toFixed(2)} MiB in fp32)`],
    ]),
    el('p', { class: 'muted' }, 'Compression recipes and chat for this model are coming next.'),
  ];
}

function missingView(): HTMLElement[] {
  return [
    el('p', { class: 'warn' }, 'The demo model is missing: public/models/stories260K/ has not been generated.'),
    el(
      'p',
      {},
      'Generate it from the shared fixtures with ',
      el('code', {}, 'npm run fixtures'),
      ' (it needs ../shared/fixtures beside this checkout), then reload. ',
      'Models from the Hugging Face hub are coming.',
    ),
  ];
}
