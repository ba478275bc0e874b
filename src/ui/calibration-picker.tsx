import { signal } from '@preact/signals';
import type { CalibrationRequest, RecipeCalibration } from '../worker/client.ts';
import catalogue from './model-catalogue.json';

/**
 * The calibration text sent with a calibrated recipe: built in (the demo's TinyStories
 * calibration stories, which the report never scores, or the English sample for other
 * models), or text the user pastes.
 */
export type CalibrationChoice = 'built-in' | 'pasted';
export const calibrationChoice = signal<CalibrationChoice>('built-in');
export const calibrationPasted = signal('');

function builtIn(modelId: string): { label: string; path: string } {
  return modelId.startsWith('demo:') ? catalogue.calibration.demo : catalogue.calibration.default;
}

/** The text to send with a compression of `modelId`. */
export async function calibrationFor(modelId: string): Promise<CalibrationRequest> {
  if (calibrationChoice.value === 'pasted') {
    if (!calibrationPasted.value.trim()) throw new Error('the pasted calibration text is empty: paste some text, or use the built-in one');
    return { text: calibrationPasted.value, name: 'pasted text' };
  }
  const entry = builtIn(modelId);
  const res = await fetch(new URL(entry.path, document.baseURI));
  if (!res.ok || (res.headers.get('content-type') ?? '').includes('text/html')) {
    throw new Error(
      `${entry.path} is not served by this build${modelId.startsWith('demo:') ? ' (it comes with the demo model: run npm run fixtures)' : ''}`,
    );
  }
  return { text: await res.text(), name: `built-in: ${entry.path.slice(entry.path.lastIndexOf('/') + 1)}` };
}

export function CalibrationPicker({ modelId, use }: { modelId: string | null; use: RecipeCalibration }) {
  if (!use) return null;
  return (
    <fieldset class="calibration">
      <legend>Calibration text</legend>
      <p class="small muted">
        {use === 'needed'
          ? 'This recipe measures the model’s activations on text: up to 128 windows of 512 tokens.'
          : 'With text, the channels and heads to remove are scored by what they add to the activations (without it, by weight norms).'}
      </p>
      <label class="check">
        <input
          type="radio"
          name="calibration"
          checked={calibrationChoice.value === 'built-in'}
          onChange={() => (calibrationChoice.value = 'built-in')}
        />{' '}
        Built in: {builtIn(modelId ?? '').label}
      </label>
      <label class="check">
        <input
          type="radio"
          name="calibration"
          checked={calibrationChoice.value === 'pasted'}
          onChange={() => (calibrationChoice.value = 'pasted')}
        />{' '}
        Text I paste
      </label>
      {calibrationChoice.value === 'pasted' && (
        <label class="grow">
          <span>Your calibration text (like what the model will read; separate documents with &lt;|endoftext|&gt;)</span>
          <textarea rows={4} value={calibrationPasted.value} onInput={(e) => (calibrationPasted.value = e.currentTarget.value)} />
        </label>
      )}
    </fieldset>
  );
}
