// One ticking clock for ages, countdowns and the chart's right edge.

export const clock = $state({ now: Date.now() });

if (typeof window !== 'undefined') {
  window.setInterval(() => {
    clock.now = Date.now();
  }, 1000);
}
