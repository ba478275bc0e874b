import { parentPort } from 'node:worker_threads';
import { serveCalibWorker, type CalibPoolRequest } from '../kernels/calib/wasm/calib-worker-core.ts';

// Node entry of a calibration pool worker (worker_threads).
const port = parentPort!;
const handle = serveCalibWorker((message, transfer) => port.postMessage(message, transfer as never));
port.on('message', (m: CalibPoolRequest) => void handle(m));
