// A small Markdown renderer that builds DOM nodes: headings, paragraphs, lists, quotes, code
// blocks, rules; inline code, bold, italics and links. Raw HTML is never interpreted: every
// piece of the source ends up as text. Links keep only http(s), mailto and in-page targets.

import {h} from './dom.js';

const SAFE_URL = /^(https?:\/\/|mailto:|#)/i;

function inline(text) {
  const out = [];
  const pattern = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  let match;
  while ((match = pattern.exec(text))) {
    if (match.index > last) out.push(text.slice(last, match.index));
    if (match[2] !== undefined) out.push(h('code', {}, match[2]));
    else if (match[3] !== undefined || match[4] !== undefined) out.push(h('strong', {}, inline(match[3] ?? match[4])));
    else if (match[5] !== undefined || match[6] !== undefined) out.push(h('em', {}, inline(match[5] ?? match[6])));
    else if (match[7] !== undefined) {
      out.push(SAFE_URL.test(match[8])
        ? h('a', {href: match[8], rel: 'noopener noreferrer nofollow', target: '_blank'}, inline(match[7]))
        : `${match[7]} (${match[8]})`);
    }
    last = pattern.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** The Markdown source as a DocumentFragment of safe elements. */
export function renderMarkdown(source) {
  const lines = String(source || '').replace(/\r\n?/g, '\n').split('\n');
  const root = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
    } else if (/^```/.test(line)) {
      const body = [];
      i++;
      while (i < lines.length && !/^```/.test(lines[i])) body.push(lines[i++]);
      i++;
      root.append(h('pre', {}, h('code', {}, body.join('\n'))));
    } else if (/^#{1,6}\s/.test(line)) {
      const level = Math.min(6, line.match(/^#+/)[0].length + 2);
      root.append(h(`h${Math.min(level, 6)}`, {}, inline(line.replace(/^#+\s*/, ''))));
      i++;
    } else if (/^(\*\s*\*\s*\*|-\s*-\s*-|_\s*_\s*_)[\s*_-]*$/.test(line)) {
      root.append(h('hr'));
      i++;
    } else if (/^>/.test(line)) {
      const body = [];
      while (i < lines.length && /^>/.test(lines[i])) body.push(lines[i++].replace(/^>\s?/, ''));
      root.append(h('blockquote', {}, renderMarkdown(body.join('\n'))));
    } else if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const items = [];
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        items.push(h('li', {}, inline(lines[i++].replace(/^\s*([-*+]|\d+[.)])\s+/, ''))));
      }
      root.append(h(ordered ? 'ol' : 'ul', {}, items));
    } else {
      const body = [];
      while (i < lines.length && lines[i].trim() && !/^(```|#{1,6}\s|>|\s*([-*+]|\d+[.)])\s+)/.test(lines[i])) body.push(lines[i++]);
      root.append(h('p', {}, inline(body.join('\n'))));
    }
  }
  return root;
}
