/**
 * The README and docs/ link to each other and to files in the repository
 * (npm shows the README; docs/ ships with the package): no link is dead,
 * and a link to a heading finds that heading.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// dist/test → the repository root
const repo = fileURLToPath(new URL('../../', import.meta.url));
const pages = [
  'README.md',
  ...readdirSync(join(repo, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The targets of a page's inline links and images, outside code. */
function linkTargets(markdown: string): string[] {
  const prose = markdown
    .replace(/^( {4}|\t).*$/gm, '')
    .replace(/```[\s\S]*?```/g, '')
    .replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

/** GitHub's anchor for each heading of a page. */
function anchors(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) =>
      m[1]!
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );
}

test('every relative link in README.md and docs/*.md points at a file that exists, and at a heading that exists', () => {
  const dead: string[] = [];
  for (const page of pages) {
    const text = readFileSync(join(repo, page), 'utf8');
    for (const target of linkTargets(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not ours to check
      const [path = '', anchor] = target.split('#');
      const file = path === '' ? join(repo, page) : join(repo, dirname(page), decodeURIComponent(path));
      if (!existsSync(file) || relative(repo, file).startsWith('..')) {
        dead.push(`${page}: ${target} (no such file in the repository)`);
      } else if (anchor && file.endsWith('.md') && statSync(file).isFile() && !anchors(readFileSync(file, 'utf8')).has(anchor)) {
        dead.push(`${page}: ${target} (no such heading)`);
      }
    }
  }
  assert.deepEqual(dead, []);
});

test('the README links the architecture and every page of docs/', () => {
  const linked = linkTargets(readFileSync(join(repo, 'README.md'), 'utf8')).map((t) => t.split('#')[0]);
  for (const page of pages.filter((p) => p !== 'README.md')) assert.ok(linked.includes(page), `README.md links ${page}`);
});
