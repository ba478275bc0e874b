/// <reference lib="webworker" />
import { serveQuantizeWorker, type PoolRequest } from './quantize-worker-core.ts';

// Browser entry of a quantize pool worker (module worker).
const scope = self as unknown as DedicatedWorkerGlobalScope;
const handle = serveQuantizeWorker((message, transfer) => scope.postMessage(message, transfer));
scope.onmessage = (e: MessageEvent<PoolRequest>) => void handle(e.data);
