/* What the book's CSS (_ext/static/reglab.css) needs from a page once MathJax has typeset it.
 *
 * 1. A display formula that is wider than the article is set a little smaller (95, 90, then at
 *    least 85 % of its size), so that at a laptop's width it fits whole beside or above its
 *    number instead of scrolling out of sight.
 * 2. An inline formula wider than the article is marked (reglab-wide-inline) to scroll in its
 *    own box. Every box that still scrolls sideways (a formula on a phone, a wide table) gets
 *    data-reglab-scroll="start" | "middle" | "end", which the CSS turns into a fading edge on
 *    the side where there is more to see, and a tab stop so that a keyboard can scroll it.
 * Both are measured again when the window changes size.
 * 3. Result IDs in the text (REG-2, DO-5, ADV-4) are kept on one line: a line break at their
 *    hyphen ("DO-" at the end of a line, "5" on the next) would hide the ID from a reader.
 * 4. Long dotted names in the index and in the reference pages' titles
 *    (reglab.experiments.adversarial_training) may break after a dot (a <wbr>), never inside a word.
 */
(function () {
  "use strict";
  const SCROLLERS =
    ".bd-article .pst-scrollable-table-container, .bd-article div.math > mjx-container," +
    " .bd-article mjx-container.reglab-wide-inline";
  const SIZES = [0.95, 0.9, 0.85];

  function mark(box) {
    const over = box.scrollWidth - box.clientWidth;
    if (over <= 1) {
      box.removeAttribute("data-reglab-scroll");
      return;
    }
    const where = box.scrollLeft <= 1 ? "start" : box.scrollLeft >= over - 1 ? "end" : "middle";
    box.setAttribute("data-reglab-scroll", where);
    if (!box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
  }

  function fitFormulas() {
    document.querySelectorAll(".bd-article div.math > mjx-container").forEach((box) => {
      if (!box.dataset.reglabSize) box.dataset.reglabSize = getComputedStyle(box).fontSize;
      const size = parseFloat(box.dataset.reglabSize);
      box.style.fontSize = size + "px";
      for (const factor of SIZES) {
        if (box.scrollWidth <= box.clientWidth + 1) break;
        box.style.fontSize = size * factor + "px";
      }
    });
  }

  function markWideInline() {
    const article = document.querySelector(".bd-article");
    if (!article) return;
    article.querySelectorAll('mjx-container:not([display="true"])').forEach((box) => {
      box.classList.remove("reglab-wide-inline");
      const block = box.parentElement.closest("p, li, dd, dt, td, th, div, section") || article;
      if (box.getBoundingClientRect().width > block.getBoundingClientRect().width) {
        box.classList.add("reglab-wide-inline");
      }
    });
  }

  function update() {
    fitFormulas();
    markWideInline();
    document.querySelectorAll(SCROLLERS).forEach(mark);
    document.documentElement.dataset.reglabLayout = "done";
  }

  const ID = /\b[A-Z][A-Z0-9]{0,3}-\d{1,2}\b/;

  function keepIdsWhole() {
    const article = document.querySelector(".bd-article");
    if (!article) return;
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) =>
        n.parentElement.closest("pre, code, mjx-container, .math, script, style, .reglab-id, .reglab-id-text") || !ID.test(n.data)
          ? NodeFilter.FILTER_REJECT
          : NodeFilter.FILTER_ACCEPT,
    });
    const found = [];
    while (walker.nextNode()) found.push(walker.currentNode);
    for (const node of found) {
      const parts = node.data.split(/(\b[A-Z][A-Z0-9]{0,3}-\d{1,2}\b)/);
      const fragment = document.createDocumentFragment();
      parts.forEach((part, i) => {
        if (i % 2 === 1) {
          const span = document.createElement("span");
          span.className = "reglab-id-text";
          span.textContent = part;
          fragment.appendChild(span);
        } else if (part) fragment.appendChild(document.createTextNode(part));
      });
      node.replaceWith(fragment);
    }
  }

  function breakIndexNamesAtDots() {
    document.querySelectorAll(".bd-article table.indextable a, .bd-article h1 code").forEach((link) => {
      const walker = document.createTreeWalker(link, NodeFilter.SHOW_TEXT);
      const found = [];
      while (walker.nextNode()) if (walker.currentNode.data.includes(".")) found.push(walker.currentNode);
      for (const node of found) {
        const fragment = document.createDocumentFragment();
        node.data.split(/(?<=\.)/).forEach((part, i) => {
          if (i > 0) fragment.appendChild(document.createElement("wbr"));
          fragment.appendChild(document.createTextNode(part));
        });
        node.replaceWith(fragment);
      }
    });
  }

  let pending = null;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(update, 150);
  });
  document.addEventListener(
    "scroll",
    (event) => {
      const box = event.target;
      if (box instanceof Element && box.hasAttribute("data-reglab-scroll")) mark(box);
    },
    true,
  );
  document.addEventListener("DOMContentLoaded", () => {
    keepIdsWhole();
    breakIndexNamesAtDots();
  });
  window.addEventListener("load", () => {
    const typeset = window.MathJax && MathJax.startup && MathJax.startup.promise;
    (typeset || Promise.resolve()).then(update, update);
  });
})();
