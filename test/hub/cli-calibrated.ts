/**
 * The calibrated recipes the page must match byte for byte (test/browser/worker-calibration.test.ts):
 * the hub's global setup runs `shrinkray compress --calib` for each, in Node, into
 * CLI_CALIBRATED_REPO/<recipe>/ (test/hub/hub-worker-fixtures.ts). No Node imports: the browser test reads it.
 */
export const CLI_CALIBRATED_REPO = 'test-org/stories260K-cli-calibrated';
export const CLI_CALIBRATED = Object.freeze({
  recipes: ['ffn25+gptq-int4-g32-asym+emb8', 'wanda-2:4+awq-int4-g32', 'lr75-act+int8-g16'],
  windows: 8,
  seed: 3,
});
