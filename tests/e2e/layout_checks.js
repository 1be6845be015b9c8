() => {
  /* Layout checks for the current page. Returns a list of readable problems.
     Text in a scroll container (overflow auto or scroll, such as .table-wrap)
     counts as reachable, so neither a cut nor a run past the viewport is
     reported for it. */
  const problems = [];
  const width = window.innerWidth;
  // Deliberately hidden or drawn content: screen-reader text, the skip link
  // until focused, and chart labels (SVG text has its own coordinates).
  const ignored = ".visually-hidden, .skip-link, script, style, svg, template, option";

  const name = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += "#" + el.id;
    if (typeof el.className === "string" && el.className.trim()) {
      text += "." + el.className.trim().split(/\s+/).join(".");
    }
    return text;
  };
  // The element with up to two ancestors, enough to find it in a template.
  const describe = (el) => {
    const parts = [];
    for (let node = el; node && node !== document.body && parts.length < 3; node = node.parentElement) {
      parts.unshift(name(node));
    }
    return parts.join(" > ");
  };
  const visible = (el) => el.checkVisibility({checkOpacity: true, visibilityProperty: true});
  const overflowOf = (el) => {
    const style = getComputedStyle(el);
    return style.overflowX + " " + style.overflowY;
  };
  const report = (() => {
    const seen = new Set();
    return (key, message) => {
      if (!seen.has(key)) {
        seen.add(key);
        problems.push(message);
      }
    };
  })();

  // 1. Page overflow: the document must not be wider than the viewport.
  const pageWidth = document.documentElement.scrollWidth;
  if (pageWidth > width + 1) {
    const wide = [...document.body.querySelectorAll("*")]
      .filter((el) => !el.closest(ignored) && visible(el))
      .filter((el) => el.getBoundingClientRect().right > width + 1)
      .slice(-3)
      .map(describe);
    problems.push(`page overflow: ${pageWidth}px wide in a ${width}px viewport; widest: ${wide.join(" | ")}`);
  }

  // 2. Clipped text: every line box of every visible text node (its Range
  // client rects) must lie inside the padding box of each ancestor that clips
  // overflow (hidden or clip), and inside the viewport horizontally.
  // Measuring the text itself, instead of comparing an element's scrollWidth
  // with its clientWidth, also catches text cut by a fixed height and does
  // not flag containers whose overflow is only padding or an empty box.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    if (!text || !parent || parent.closest(ignored) || !visible(parent)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) {
      if (rect.width < 1 || rect.height < 1) continue;
      let scrollable = false;
      for (let el = parent; el && el !== document.documentElement; el = el.parentElement) {
        const overflow = overflowOf(el);
        if (/auto|scroll/.test(overflow)) {
          scrollable = true;
          break;
        }
        if (!/hidden|clip/.test(overflow)) continue;
        const box = el.getBoundingClientRect();
        const left = box.left + el.clientLeft;
        const top = box.top + el.clientTop;
        const right = left + el.clientWidth;
        const bottom = top + el.clientHeight;
        if (rect.left < left - 1 || rect.right > right + 1 || rect.top < top - 1 || rect.bottom > bottom + 1) {
          report(`clip ${describe(parent)} ${text}`,
            `clipped text "${text.slice(0, 40)}" in ${describe(parent)}, cut by ${describe(el)}`);
        }
      }
      if (!scrollable && (rect.left < -1 || rect.right > width + 1)) {
        report(`viewport ${describe(parent)} ${text}`,
          `text "${text.slice(0, 40)}" in ${describe(parent)} runs past the viewport ` +
          `(${Math.round(rect.left)}..${Math.round(rect.right)}px of ${width}px)`);
      }
    }
  }

  // 3. Overlapping controls: the line boxes of two visible links, buttons or
  // form fields must not intersect by more than a pixel. A control nested in
  // another does not count as an overlap. While a modal dialog is open the
  // page behind it is inert, so only the dialog's controls are compared.
  const scope = document.querySelector("dialog:modal") || document;
  const controls = [...scope.querySelectorAll(
    "a[href], button, .button, input:not([type=hidden]), select, textarea, summary"
  )].filter((el) => !el.closest(".skip-link") && visible(el));
  const boxes = controls.map((el) => [...el.getClientRects()].filter((r) => r.width >= 1 && r.height >= 1));
  const intersect = (r, s) =>
    Math.min(r.right, s.right) - Math.max(r.left, s.left) > 1 &&
    Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top) > 1;
  for (let i = 0; i < controls.length; i++) {
    for (let j = i + 1; j < controls.length; j++) {
      const a = controls[i];
      const b = controls[j];
      if (a.contains(b) || b.contains(a)) continue;
      if (boxes[i].some((r) => boxes[j].some((s) => intersect(r, s)))) {
        problems.push(`overlap: ${describe(a)} "${a.textContent.trim().slice(0, 30)}" and ` +
          `${describe(b)} "${b.textContent.trim().slice(0, 30)}"`);
      }
    }
  }
  return problems;
}
