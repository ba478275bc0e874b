import './ui/app.css';
import './pwa/register.ts';
import { demoModelView } from './ui/demo-model-view.ts';
import { environmentView } from './ui/environment-view.ts';

// The app shell. Views never touch model code directly: once the workers exist they
// talk only to src/worker/client.ts.
const app = document.getElementById('app');
if (!app) throw new Error('index.html lacks the #app element');
app.replaceChildren(environmentView(), demoModelView());
