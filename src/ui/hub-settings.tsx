import { signal } from '@preact/signals';
import { DEFAULT_HUB_URL } from '../worker/client.ts';
import { forgetToken, saveToken, tokenFor, tokenHint } from './hub-token.ts';
import { hubUrl, setHubUrl } from './state.ts';

/**
 * The hub's settings, folded under the repo box: the hub or mirror address, and an access
 * token for gated repos (Google's Gemma, Meta's Llama need one from an account that accepted
 * their terms). Opened by the hub card when a preflight answers that a repo is gated.
 */
export const hubSettingsOpen = signal(false);
const hubDraft = signal<string | null>(null);
const tokenDraft = signal('');

/** `onTokenSaved`: called once a token is saved (the hub card checks the repo again). */
export function HubSettings({ onTokenSaved }: { onTokenSaved: () => void }) {
  const token = tokenFor(hubUrl.value);
  return (
    <details class="settings" open={hubSettingsOpen.value} onToggle={(e) => (hubSettingsOpen.value = e.currentTarget.open)}>
      <summary>
        Hub address: {hubUrl.value}
        {token && <> · access token {tokenHint(token)}</>}
      </summary>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          setHubUrl(hubDraft.value ?? hubUrl.value);
          hubDraft.value = null;
        }}
      >
        <label class="grow">
          <span>Hub or mirror base URL</span>
          <input
            type="url"
            name="hub-url"
            value={hubDraft.value ?? hubUrl.value}
            onInput={(e) => (hubDraft.value = e.currentTarget.value)}
          />
        </label>
        <button type="submit">Save</button>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            setHubUrl(DEFAULT_HUB_URL);
            hubDraft.value = null;
          }}
        >
          Default
        </button>
      </form>
      <p class="muted small">Files are fetched from &lt;base&gt;/&lt;repo&gt;/resolve/main/&lt;file&gt;. Saved in this browser.</p>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          saveToken(hubUrl.value, tokenDraft.value);
          tokenDraft.value = '';
          onTokenSaved();
        }}
      >
        <label class="grow">
          <span>Access token for gated repos</span>
          <input
            type="password"
            name="hub-token"
            autoComplete="off"
            spellcheck={false}
            placeholder={token ? `saved ${tokenHint(token)}` : 'hf_…'}
            value={tokenDraft.value}
            onInput={(e) => (tokenDraft.value = e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={!tokenDraft.value.trim()}>
          Save token
        </button>
        {token && (
          <button type="button" class="secondary" onClick={forgetToken}>
            Forget token
          </button>
        )}
      </form>
      <p class="muted small">
        Gemma and Llama repos are gated: accept the model's terms on the hub, make a read token (hub settings, Access Tokens) and paste it
        here. It is kept in this browser only and sent only to {hubUrl.value}, never stored with a model.
      </p>
    </details>
  );
}
