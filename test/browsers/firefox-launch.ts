import puppeteer, { type Browser } from 'puppeteer-core';

/**
 * How every Firefox the project drives is started: Debian's Firefox ESR (or FIREFOX_PATH)
 * through puppeteer-core over WebDriver BiDi, headless, on a profile directory the caller owns
 * (no geckodriver, no downloaded browser). The Firefox tests (test/firefox/) and the engine
 * benchmark (bench/engine-browser.ts) launch it here, so both run the same browser the same way.
 * No Vitest here: the benchmark imports it outside any test.
 */
export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

export function launchFirefoxBrowser(profileDir: string, opts: { protocolTimeoutMs?: number } = {}): Promise<Browser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    protocol: 'webDriverBiDi',
    headless: true,
    userDataDir: profileDir,
    protocolTimeout: opts.protocolTimeoutMs ?? 240_000,
  });
}
