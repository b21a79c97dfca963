// Short confirmations and failures, announced to screen readers by the toast region.

let next = 1;

export const toasts = $state({ items: /** @type {Array<{id: number, kind: string, text: string}>} */ ([]) });

export function toast(text, kind = 'info', ms = 5000) {
  const id = next++;
  toasts.items.push({ id, kind, text });
  window.setTimeout(() => dismiss(id), ms);
  return id;
}

export function dismiss(id) {
  const index = toasts.items.findIndex((t) => t.id === id);
  if (index >= 0) toasts.items.splice(index, 1);
}
