// A code block (or table) wider than the page scrolls sideways, but a keyboard user can only
// scroll what can take focus (WCAG 2.1.1; axe: scrollable-region-focusable). Make the blocks
// that overflow, and only those, a tab stop; re-check when the window is resized.
"use strict";
function markScrollableRegions() {
  for (const region of document.querySelectorAll("pre, .table-wrapper")) {
    const scrolls = region.scrollWidth > region.clientWidth || region.scrollHeight > region.clientHeight;
    if (scrolls) {
      region.setAttribute("tabindex", "0");
    } else if (region.getAttribute("tabindex") === "0") {
      region.removeAttribute("tabindex");
    }
  }
}
// At "load", not "DOMContentLoaded": reading the widths forces a layout, which would hold up
// the page being ready by about 100 ms; the tab stops are needed only once a reader acts.
window.addEventListener("load", markScrollableRegions);
window.addEventListener("resize", markScrollableRegions);
