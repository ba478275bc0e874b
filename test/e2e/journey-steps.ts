/**
 * The steps of a journey, one method each, as both browsers' page objects take them: Chromium's
 * (shrinkray-page.ts, Playwright) and Firefox's (test/firefox/firefox-page.ts, puppeteer-core
 * over WebDriver BiDi). A label or a screen that changes is changed in both, and the compiler
 * says where one falls behind; the journeys in either browser read as the same steps.
 */
export interface JourneySteps {
  /** Console errors and uncaught page errors so far. */
  readonly errors: string[];
  openScreen(label: RegExp | string): Promise<void>;
  /** Waits until the demo model can be chosen (the page probes for it). */
  demoReady(): Promise<void>;
  /** Chooses the bundled demo model: the recipe screen opens. */
  chooseDemo(): Promise<void>;
  /** The recipe screen is open (after choosing, importing or following a link to a model). */
  shrinkScreen(timeout?: number): Promise<void>;
  /** Types a recipe and waits for the page to accept it. */
  setRecipe(recipe: string): Promise<void>;
  /** Chooses "Text I paste" in the calibration picker and pastes `text`. */
  pasteCalibration(text: string): Promise<void>;
  /** Presses Compress and waits for the report titled `Report: <title>` (model · canonical recipe). */
  compress(title: string, timeout?: number): Promise<void>;
  /** Waits for the report's evaluation, then reads perplexity before and after. */
  perplexity(timeout?: number): Promise<{ before: number; after: number }>;
  /** A number in an element's text, e.g. '4.080 (×1.15)' -> 4.08. */
  numberIn(testId: string): Promise<number>;
  /** The stored models' names, as listed. */
  storedModelNames(): Promise<string[]>;
  /** Opens the chat settings, sets the given fields, and closes them again. */
  chatSettings(o: { temperature?: number; maxNewTokens?: number; threads?: number }): Promise<void>;
  /** Sends `message` (empty: a completion from BOS) and waits until `replies` replies are finished. */
  send(message: string, replies?: number, timeout?: number): Promise<void>;
  /** The checks every screen gets, then screenshots at both widths. */
  checkScreen(name: string): Promise<void>;
}
