/* Web addresses in chat text as links, for the agent workspace and the buyer's chat page.
 * Classic script (no build step): it adds DXE.linkTokens and DXE.linkify to window.DXE.
 *
 * Only http(s) addresses and bare "www." hosts (linked as https) become links; anything else
 * (javascript:, data:, …) stays text, and the text goes into text nodes, never into HTML.
 * An address is ASCII: chat in Chinese runs straight on after a link with no space
 * ("详情见https://example.com/a谢谢"), and browsers copy non-ASCII paths percent-encoded.
 * Punctuation that ends a sentence is not part of the address: trailing . , : ; ! ? ' " and a
 * closing bracket without its opening one inside the address, as GitHub's autolinks do.
 */
(function () {
  "use strict";
  const DXE = (window.DXE = window.DXE || {});

  // Not inside a word, an e-mail address or a path; then a host character must follow.
  const CANDIDATE = /(?<![A-Za-z0-9_@.\-/])(?:https?:\/\/(?=[A-Za-z0-9[])|www\.(?=[A-Za-z0-9]))[!#-;=?-~]*/gi;
  const TRAILING = ".,:;!?'\"";
  const PAIRS = { ")": "(", "]": "[", "}": "{" };

  const count = (text, ch) => text.split(ch).length - 1;

  function trimTrailing(candidate) {
    let end = candidate.length;
    while (end > 0) {
      const ch = candidate[end - 1];
      const open = PAIRS[ch];
      if (TRAILING.includes(ch)) end -= 1;
      else if (open && count(candidate.slice(0, end), ch) > count(candidate.slice(0, end), open)) end -= 1;
      else break;
    }
    return candidate.slice(0, end);
  }

  /** The address a link opens, or null when the candidate is not a usable http(s) URL. */
  function hrefOf(address) {
    let url;
    try {
      url = new URL(/^www\./i.test(address) ? `https://${address}` : address);
    } catch (err) {
      return null;
    }
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname ? url.href : null;
  }

  /** The text cut into pieces: [{text}, {text, href}, …]; joined, the texts give it back. */
  DXE.linkTokens = function (value) {
    const text = String(value);
    const tokens = [];
    let at = 0;
    for (const match of text.matchAll(CANDIDATE)) {
      const address = trimTrailing(match[0]);
      const href = address && hrefOf(address);
      if (!href) continue;
      if (match.index > at) tokens.push({ text: text.slice(at, match.index) });
      tokens.push({ text: address, href });
      at = match.index + address.length;
    }
    if (at < text.length) tokens.push({ text: text.slice(at) });
    return tokens;
  };

  /** DOM nodes for the text: text nodes, and anchors that open in a new tab. */
  DXE.linkify = function (text) {
    return DXE.linkTokens(text).map((token) => {
      if (!token.href) return document.createTextNode(token.text);
      const a = document.createElement("a");
      a.href = token.href;
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      a.className = "msg-link";
      a.textContent = token.text;
      return a;
    });
  };
})();
