/// <reference lib="webworker" />
import { serveCalibWorker, type CalibPoolRequest } from './calib-worker-core.ts';

// Browser entry of a calibration pool worker (module worker).
const scope = self as unknown as DedicatedWorkerGlobalScope;
const handle = serveCalibWorker((message, transfer) => scope.postMessage(message, transfer));
scope.onmessage = (e: MessageEvent<CalibPoolRequest>) => void handle(e.data);
