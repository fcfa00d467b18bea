// Draw a chart only when its box scrolls into view (one observer for the page).

let observer = null;
const pending = new Map();

export function whenVisible(element, callback) {
  if (!observer) {
    observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const fn = pending.get(entry.target);
        pending.delete(entry.target);
        observer.unobserve(entry.target);
        if (fn) fn();
      }
    }, {rootMargin: '150px'});
  }
  pending.set(element, callback);
  observer.observe(element);
  return () => {
    pending.delete(element);
    observer.unobserve(element);
  };
}

/** Starts now the charts already on screen, without waiting a frame for the observer (a
 * page calls it once, after laying out its cards: one layout for all of them). */
export function startVisibleNow() {
  const bottom = window.innerHeight + 150;
  for (const [element, callback] of [...pending]) {
    const box = element.getBoundingClientRect();
    if (box.height > 0 && box.top < bottom && box.bottom > -150) {
      pending.delete(element);
      observer.unobserve(element);
      callback();
    }
  }
}

/** Points to ask for: about two per horizontal pixel of the plot. */
export function maxPointsFor(width) {
  return Math.max(100, Math.min(4000, Math.floor(2 * Math.max(100, width - 70))));
}
