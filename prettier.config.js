// Prettier: the house style as the code was written by hand (single quotes, semicolons,
// trailing commas, long lines for dense numeric code). `npm run format` rewrites,
// `npm run format:check` checks; files Prettier skips are in .prettierignore.
/** @type {import('prettier').Config} */
export default {
  printWidth: 140,
  singleQuote: true,
  semi: true,
  trailingComma: 'all',
  arrowParens: 'always',
};
