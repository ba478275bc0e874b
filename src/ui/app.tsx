import { ChatView } from './chat-view.tsx';
import { missingRequired } from './capabilities.ts';
import { EnvironmentPanel, Refusal } from './environment-panel.tsx';
import { backendSentence, environment } from './environment.ts';
import { formatBytes } from './format.ts';
import { SourceView } from './source-view.tsx';
import { StoredModelsView } from './stored-models-view.tsx';
import { ShrinkView } from './shrink-view.tsx';
import { models, showTab, tab, TABS, usage } from './state.ts';

/** The page: masthead with the environment panel, the four screens as a navigation bar, and the screen shown. */
export function App() {
  const env = environment.value;
  if (env && missingRequired(env).length > 0) {
    return (
      <main id="screen" class="refusal">
        <h1>Shrinkray</h1>
        <Refusal env={env} />
        <EnvironmentPanel env={env} />
      </main>
    );
  }
  const u = usage.value;
  return (
    <>
      <a class="skip" href="#screen">
        Skip to the screen
      </a>
      <header class="masthead">
        <div class="brand">
          <h1>Shrinkray</h1>
          <p>Compress language models in your browser, then chat with them. Nothing leaves this tab.</p>
        </div>
        {env && (
          <p class={env.webgpu === 'no' ? 'env small warn' : 'env muted small'} role="note">
            {backendSentence(env)}
          </p>
        )}
        {env && <EnvironmentPanel env={env} />}
      </header>
      <nav class="tabs" aria-label="Screens">
        <ul>
          {TABS.map((t) => (
            <li key={t.id}>
              <a
                href={`#${t.id}`}
                aria-current={tab.value === t.id ? 'page' : undefined}
                onClick={(e) => {
                  e.preventDefault();
                  showTab(t.id);
                }}
              >
                {t.label}
                {t.id === 'models' && models.value.length > 0 && <span class="badge">{models.value.length}</span>}
              </a>
            </li>
          ))}
        </ul>
        {u && <span class="muted small store-line">{formatBytes(u.modelBytes)} stored</span>}
      </nav>
      <main id="screen">
        {tab.value === 'model' && <SourceView />}
        {tab.value === 'shrink' && <ShrinkView />}
        {tab.value === 'chat' && <ChatView />}
        {tab.value === 'models' && <StoredModelsView />}
      </main>
    </>
  );
}
