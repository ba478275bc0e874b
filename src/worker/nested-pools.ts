/**
 * Whether the compress worker starts its kernel pools (nested workers). Firefox (ESR 153 here),
 * under load, was seen to stop a worker's event loop while it started nested workers: a
 * compression stood at "starting the calibration workers", and the pool's 30 s start bound, a
 * timer in that same worker, never fired (three of about a dozen full test runs). There the
 * kernels run on the compress worker itself: the output is bit-identical, only slower.
 */
export function nestedPoolsAllowed(userAgent = navigator.userAgent): boolean {
  return !/\bFirefox\//.test(userAgent);
}
