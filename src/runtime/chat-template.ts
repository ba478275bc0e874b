import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { ShrinkrayError, isShrinkrayError } from '../errors.ts';
import { printable } from '../formats/printable.ts';
import { TOKENIZER_BUDGET } from './tokenizer-budget.ts';

/**
 * A model's Jinja chat template, compiled once and rendered within a budget: at most
 * `templateSteps` evaluated nodes and `templateMs` of wall time, no string above
 * `renderedChars`, no list above `listItems` (range() included). A template that loops 1e8
 * times or doubles a string in a loop ends in a 'bad_file' error naming its file, not in a
 * hung tab or an exhausted heap.
 */
export interface TemplateBudget {
  steps: number;
  ms: number;
  chars: number;
  items: number;
}

const DEFAULT_BUDGET: TemplateBudget = {
  steps: TOKENIZER_BUDGET.templateSteps,
  ms: TOKENIZER_BUDGET.templateMs,
  chars: TOKENIZER_BUDGET.renderedChars,
  items: TOKENIZER_BUDGET.listItems,
};

export class ChatTemplate {
  private readonly template: Template;

  /** `fileName` is where the template came from (tokenizer_config.json or chat_template.jinja), for errors. */
  constructor(
    readonly source: string,
    readonly fileName: string,
    private readonly budget: TemplateBudget = DEFAULT_BUDGET,
  ) {
    if (source.length > TOKENIZER_BUDGET.templateChars) {
      throw new ShrinkrayError(
        'bad_file',
        `${fileName}: the chat template has ${source.length} characters, above the ${TOKENIZER_BUDGET.templateChars} allowed`,
      );
    }
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ShrinkrayError('bad_file', `${fileName}: the chat template does not parse: ${describe(e)}`, { cause: e });
    }
  }

  /** Renders with `variables` (messages, add_generation_prompt, special tokens). */
  render(variables: Record<string, unknown>): string {
    const { budget, fileName } = this;
    const over = (what: string) => new ShrinkrayError('bad_file', `${fileName}: the chat template ${what}`);
    const deadline = performance.now() + budget.ms;
    let steps = 0;
    // Template.render builds its own Interpreter, so the budget goes in through the class's
    // evaluate(), swapped only for this synchronous call and restored before it returns: no
    // other rendering can run in between on this thread. A loop with an empty body evaluates
    // nothing per iteration but sets `loop` in its scope, so setVariable() counts steps too.
    const tick = () => {
      if (++steps > budget.steps) throw over(`did not finish within ${budget.steps} steps (a loop that runs too long?)`);
      if (steps % 1024 === 0 && performance.now() > deadline) throw over(`did not finish within ${budget.ms} ms`);
    };
    const original = Interpreter.prototype.evaluate;
    const originalSet = Environment.prototype.setVariable;
    Interpreter.prototype.evaluate = function (this: Interpreter, statement, environment) {
      tick();
      if (steps === 1) boundRange(environment, budget.items, over);
      if (statement?.type === 'FilterExpression') checkWidths(this, statement as unknown as FilterNode, environment, over);
      const value = original.call(this, statement, environment);
      const v: unknown = value?.value;
      if (typeof v === 'string' && v.length > budget.chars)
        throw over(`built a string of ${v.length} characters, above the ${budget.chars} allowed`);
      if (Array.isArray(v) && v.length > budget.items) throw over(`built a list of ${v.length} items, above the ${budget.items} allowed`);
      return value;
    };
    Environment.prototype.setVariable = function (this: Environment, name, value) {
      tick();
      return originalSet.call(this, name, value);
    };
    try {
      return this.template.render(variables);
    } catch (e) {
      if (isShrinkrayError(e)) throw e;
      throw new ShrinkrayError('bad_file', `${fileName}: the chat template failed to render: ${describe(e)}`, { cause: e });
    } finally {
      Interpreter.prototype.evaluate = original;
      Environment.prototype.setVariable = originalSet;
    }
  }
}

type Over = (what: string) => ShrinkrayError;
type RuntimeFunction = {
  value: (args: { value: unknown }[], scope: unknown) => unknown;
  constructor: new (fn: RuntimeFunction['value']) => unknown;
};

/**
 * range() builds its whole list in one step, before any check after it could run, so the
 * global is replaced (in this rendering's own environment) by one that counts first and
 * then calls the original.
 */
function boundRange(global: Environment, maxItems: number, over: Over): void {
  const range = global.variables.get('range') as unknown as RuntimeFunction | undefined;
  if (!range || typeof range.value !== 'function') return;
  const bounded = new range.constructor((args, scope) => {
    const [a, b, c] = args.map((x) => x.value);
    const [from, to, step] = b === undefined ? [0, a, 1] : [a, b, c ?? 1];
    if ([from, to, step].every((x) => typeof x === 'number') && step !== 0) {
      const count = Math.ceil(((to as number) - (from as number)) / (step as number));
      if (count > maxItems) throw over(`asked range() for ${count} items, above the ${maxItems} allowed`);
    }
    return range.value(args, scope);
  });
  global.variables.set('range', bounded as never);
}

interface FilterNode {
  filter: { type: string; value?: string; callee?: { value?: string }; args?: { type: string; value?: unknown }[] };
}

// Filters that build whitespace of a width the template chooses: " ".repeat(width) in one step.
const WIDTH_FILTERS = new Set(['indent', 'tojson']);
const MAX_WIDTH = 1000;

function checkWidths(interpreter: Interpreter, node: FilterNode, env: Environment, over: Over): void {
  const f = node.filter;
  if (f.type !== 'CallExpression' || !WIDTH_FILTERS.has(f.callee?.value ?? '')) return;
  for (const arg of f.args ?? []) {
    // Keyword arguments (indent=4) carry their expression in `value`; jinja expressions have no side effects.
    const expr = (arg.type === 'KeywordArgumentExpression' ? arg.value : arg) as Parameters<Interpreter['evaluate']>[0];
    const v: unknown = interpreter.evaluate(expr, env)?.value;
    if (typeof v === 'number' && v > MAX_WIDTH)
      throw over(`asks the ${f.callee!.value} filter for a width of ${v}, above the ${MAX_WIDTH} allowed`);
  }
}

function describe(e: unknown): string {
  return printable(e instanceof Error ? e.message : String(e), 300);
}
