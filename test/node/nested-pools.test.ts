import { expect, it } from 'vitest';
import { nestedPoolsAllowed } from '../../src/worker/nested-pools.ts';

// Which browsers' compress worker starts its kernel pools (src/worker/nested-pools.ts says why Firefox does not).
it('Firefox runs the kernels on the compress worker; Chromium and others start the pools', () => {
  expect(nestedPoolsAllowed('Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0')).toBe(false);
  expect(nestedPoolsAllowed('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36')).toBe(
    true,
  );
  expect(
    nestedPoolsAllowed(
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15',
    ),
  ).toBe(true);
});
