import { parentPort } from 'node:worker_threads';
import { serveQuantizeWorker, type PoolRequest } from '../kernels/quantize/wasm/quantize-worker-core.ts';

// Node entry of a quantize pool worker (worker_threads).
const port = parentPort!;
const handle = serveQuantizeWorker((message, transfer) => port.postMessage(message, transfer as never));
port.on('message', (m: PoolRequest) => void handle(m));
