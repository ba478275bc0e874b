import { h, render } from 'preact';
import './ui/app.css';
import './pwa/register.ts';
import { App } from './ui/app.tsx';
import { checkDemo } from './ui/demo-card.tsx';
import { applyDeepLink } from './ui/deep-link.ts';
import { detectEnvironment } from './ui/environment.ts';
import { refreshModels } from './ui/state.ts';

// The app: Preact views over signals; every model, file and network operation runs in the
// workers behind src/worker/client.ts, which is all the views import.
const root = document.getElementById('app');
if (!root) throw new Error('index.html lacks the #app element');
render(h(App, null), root);
void detectEnvironment();
void checkDemo();
void refreshModels().then(() => applyDeepLink());
