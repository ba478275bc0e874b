import './update-notice.css';

/**
 * The "new version" notice: a small bar at the bottom of the page with an Update button (which
 * reloads into the new version) and a Later button. Shown only when a new service worker waits.
 * `update` may report what it waits for through `say`, which replaces the notice's text.
 */
export function showUpdateNotice(update: (say: (text: string) => void) => Promise<void>): void {
  if (document.getElementById('update-notice')) return;
  const notice = document.createElement('aside');
  notice.id = 'update-notice';
  notice.className = 'update-notice';
  notice.setAttribute('role', 'status');
  notice.setAttribute('aria-label', 'Update available');
  const text = document.createElement('p');
  text.textContent = 'A new version of Shrinkray is ready. Update now, or it loads the next time you open Shrinkray.';
  const say = (message: string) => {
    text.textContent = message;
  };
  const now = button('Update now', () => {
    now.disabled = true;
    update(say).catch((e: unknown) => {
      now.disabled = false;
      say(`The update failed: ${e instanceof Error ? e.message : String(e)}`);
    });
  });
  const later = button('Later', () => notice.remove());
  notice.append(text, now, later);
  document.body.append(notice);
}

function button(label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}
