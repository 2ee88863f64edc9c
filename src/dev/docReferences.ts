/**
 * Docs and comments that cannot go stale (run by the test command: scripts/check-references.ts).
 *
 * Two checks over the repository's own text:
 * - every repository path cited in a doc (README.md, docs/*.md) or in a comment of the code (src/,
 *   scripts/, test/, client/, web/src/) names a file or folder that exists: paths under `src/`,
 *   `test/`, `scripts/`, `docs/`, `client/`, `web/`, `prisma/` and `agent/` anywhere, and in comments
 *   also paths starting `./` or `../`, relative to the file; a path with a placeholder (`<name>`, `*`)
 *   is not a citation and is skipped;
 * - every Markdown link to an anchor (`[text](<FILE>.md#<anchor>)`, `[text](#<anchor>)`) in the docs,
 *   and every `docs/<FILE>.md#<anchor>` in a comment, names a heading of that file, by GitHub's rules
 *   for heading anchors (github-slugger).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import GithubSlugger from 'github-slugger';

/** One stale reference: where it is cited and what it names. */
export interface StaleReference {
  /** Repository-relative file and 1-based line of the citation. */
  file: string;
  line: number;
  /** The path or `path#anchor` cited. */
  reference: string;
  reason: 'missing path' | 'missing anchor';
}

const TOP_FOLDERS = ['src', 'test', 'scripts', 'docs', 'client', 'web', 'prisma', 'agent'];
/** A repository path: a top folder, then path segments; ends at whitespace, quotes, brackets, `:` or `#`. */
const REPO_PATH = new RegExp(`(?<![\\w./@-])((?:${TOP_FOLDERS.join('|')})(?:/[\\w.-]+)+/?)(?![\\w<*{])`, 'g');
/** A path relative to the citing file, in a comment. */
const RELATIVE_PATH = /(?<![\w./-])(\.\.?\/[\w./-]*[\w-]\.(?:ts|tsx|mts|js|cjs|mjs|json|md|sql|sh))(?![\w<*{])/g;
const MD_ANCHOR_LINK = /\]\(([^)\s#]*\.md)?#([^)\s]+)\)/g;
const COMMENT_ANCHOR = /(?<![\w./-])(docs\/[\w.-]+\.md)#([\w-]+)/g;
const SOURCE_DIRS = ['src', 'scripts', 'test', 'client', 'web/src'];
const SKIP_DIRS = new Set(['node_modules', 'generated', 'dist', 'fixtures', '.data', '.tools']);

function walk(dir: string, keep: (file: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return SKIP_DIRS.has(d.name) ? [] : walk(p, keep);
    return keep(p) ? [p] : [];
  });
}

/** Anchors of a Markdown file's headings (outside code fences), as GitHub makes them. */
function anchorsOf(markdown: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) anchors.add(slugger.slug(heading[1]!.replace(/`/g, '')));
  }
  return anchors;
}

/**
 * The comment text of a source line (a `//` comment, or a line of a block comment that starts a line,
 * as JSDoc does), or null when it has none.
 */
function commentOf(line: string, inBlock: boolean): string | null {
  const trimmed = line.trim();
  if (inBlock || trimmed.startsWith('/*')) return trimmed;
  const at = line.indexOf('// ');
  return at >= 0 && !line.slice(0, at).includes("'") && !line.slice(0, at).includes('`') ? line.slice(at) : null;
}

/**
 * The stale references of the repository at `root` (see the header).
 * @returns every one found, in file order; empty when the docs and comments are current.
 */
export function findStaleReferences(root: string): StaleReference[] {
  const stale: StaleReference[] = [];
  const exists = (p: string) => existsSync(p) && (statSync(p).isFile() || statSync(p).isDirectory());
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (file: string) => {
    if (!anchorCache.has(file)) anchorCache.set(file, anchorsOf(readFileSync(file, 'utf8')));
    return anchorCache.get(file)!;
  };
  const checkPath = (file: string, line: number, cited: string, base: string) => {
    const target = path.resolve(base, cited.replace(/[.,;:]+$/, ''));
    if (!exists(target)) stale.push({ file: path.relative(root, file), line, reference: cited, reason: 'missing path' });
  };
  const checkAnchor = (file: string, line: number, target: string, anchor: string) => {
    if (!existsSync(target)) return stale.push({ file: path.relative(root, file), line, reference: `${path.relative(root, target)}#${anchor}`, reason: 'missing path' });
    if (!anchors(target).has(decodeURIComponent(anchor).toLowerCase()))
      stale.push({ file: path.relative(root, file), line, reference: `${path.relative(root, target)}#${anchor}`, reason: 'missing anchor' });
  };

  const docs = [path.join(root, 'README.md'), ...walk(path.join(root, 'docs'), (f) => f.endsWith('.md'))];
  for (const doc of docs) {
    let fenced = false;
    readFileSync(doc, 'utf8')
      .split('\n')
      .forEach((text, i) => {
        if (/^\s*```/.test(text)) fenced = !fenced;
        for (const m of text.matchAll(REPO_PATH)) checkPath(doc, i + 1, m[1]!, root);
        if (fenced) return;
        for (const m of text.matchAll(MD_ANCHOR_LINK)) {
          if (/^[a-z]+:/.test(m[1] ?? '')) continue; // another site's page
          checkAnchor(doc, i + 1, m[1] ? path.resolve(path.dirname(doc), m[1]) : doc, m[2]!);
        }
      });
  }

  const sources = SOURCE_DIRS.flatMap((d) => walk(path.join(root, d), (f) => /\.(ts|tsx|mts|cjs|mjs)$/.test(f) && !f.endsWith('.d.ts')));
  for (const source of sources) {
    let inBlock = false;
    readFileSync(source, 'utf8')
      .split('\n')
      .forEach((text, i) => {
        const comment = commentOf(text, inBlock);
        const trimmed = text.trim();
        if (!inBlock && trimmed.startsWith('/*') && !trimmed.includes('*/')) inBlock = true;
        else if (inBlock && trimmed.includes('*/')) inBlock = false;
        if (comment === null) return;
        for (const m of comment.matchAll(REPO_PATH)) checkPath(source, i + 1, m[1]!, root);
        for (const m of comment.matchAll(RELATIVE_PATH)) checkPath(source, i + 1, m[1]!, path.dirname(source));
        for (const m of comment.matchAll(COMMENT_ANCHOR)) checkAnchor(source, i + 1, path.join(root, m[1]!), m[2]!);
      });
  }
  return stale;
}
