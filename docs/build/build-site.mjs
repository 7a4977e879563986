#!/usr/bin/env node
// build-site.mjs: builds the docs site (docs/myst.yml + docs/*.md) into static HTML,
// offline, with the MyST engine's own npm packages (myst-parser, myst-transforms,
// myst-to-html). `myst build --html` (mystmd) would fetch its book-theme template from
// api.mystmd.org at build time; only the npm registry is reachable here and in CI, so
// this script does the parse -> transform -> render steps of the same engine itself
// and wraps each page in a small template with a sidebar built from the toc.
//
// Usage: node build-site.mjs [--docs DIR] [--out DIR]
//   --docs  the directory holding myst.yml (default: the parent of this script's dir)
//   --out   where the site goes (default: DIR/_build/html); emptied first
//
// It fails (exit 1, one line per problem, file:line) on: a toc entry whose file is
// missing, a page that does not parse or uses an unknown directive/role, a missing
// {include}, a link to a local file that is neither a toc page nor a file under docs/,
// and any link or #anchor in the built site that does not resolve.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { unified } from 'unified';
import { VFile } from 'vfile';
import { visit } from 'unist-util-visit';
import { selectAll } from 'unist-util-select';
import { mystParse } from 'myst-parser';
import { fileError, toText, createHtmlId, liftChildren } from 'myst-common';
import {
  getFrontmatter,
  includeDirectiveTransform,
  reconstructHtmlPlugin,
  htmlPlugin,
  basicTransformationsPlugin,
  inlineMathSimplificationPlugin,
  mathPlugin,
  glossaryPlugin,
  abbreviationPlugin,
  footnotesPlugin,
  enumerateTargetsPlugin,
  codePlugin,
  ReferenceState,
  MultiPageReferenceResolver,
  resolveReferencesTransform,
  resolveLinksAndCitationsTransform,
} from 'myst-transforms';
import { mystToHtml } from 'myst-to-html';

const here = path.dirname(fileURLToPath(import.meta.url));

/** BuildError carries every problem found, so one run reports them all. */
class BuildError extends Error {
  constructor(problems) {
    super(`${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

function parseArgs(argv) {
  const opts = { docs: path.resolve(here, '..'), out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === '--docs' || a === '--out') && argv[i + 1]) {
      opts[a.slice(2)] = path.resolve(argv[++i]);
    } else {
      throw new BuildError([`unknown argument "${a}" (usage: build-site.mjs [--docs DIR] [--out DIR])`]);
    }
  }
  opts.out ??= path.join(opts.docs, '_build', 'html');
  return opts;
}

/** readConfig loads myst.yml and flattens its toc into pages and a nav tree. */
function readConfig(docsDir) {
  const file = path.join(docsDir, 'myst.yml');
  let config;
  try {
    config = yaml.load(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new BuildError([`${file}: ${err.message}`]);
  }
  const project = config?.project ?? {};
  if (!Array.isArray(project.toc) || project.toc.length === 0) {
    throw new BuildError([`${file}: project.toc is missing or empty; it is the list of pages`]);
  }
  const problems = [];
  const pages = [];
  const walk = (entries, where) =>
    entries.map((entry, i) => {
      const at = `${where}[${i}]`;
      if (entry?.file) {
        const src = path.resolve(docsDir, entry.file);
        if (!fs.existsSync(src)) {
          problems.push(`${file}: toc entry ${at} file "${entry.file}" does not exist (${src})`);
        } else if (pages.some((p) => p.src === src)) {
          problems.push(`${file}: toc entry ${at} lists "${entry.file}" a second time`);
        }
        const rel = path.relative(docsDir, src).split(path.sep).join('/');
        const page = { src, rel, html: rel.replace(/\.(md|markdown)$/i, '') + '.html', tocTitle: entry.title };
        pages.push(page);
        return { page, children: walk(entry.children ?? [], `${at}.children`) };
      }
      if (entry?.title && Array.isArray(entry.children)) {
        return { title: String(entry.title), children: walk(entry.children, `${at}.children`) };
      }
      problems.push(`${file}: toc entry ${at} needs "file:" or "title:" with "children:" (got ${JSON.stringify(entry)})`);
      return undefined;
    }).filter(Boolean);
  const nav = walk(project.toc, 'project.toc');
  if (problems.length) throw new BuildError(problems);
  // The first page is the site's home: it is written as index.html.
  pages[0].html = 'index.html';
  const dup = pages.find((p, i) => pages.findIndex((q) => q.html === p.html) !== i);
  if (dup) throw new BuildError([`${file}: two toc pages would both be written to ${dup.html}`]);
  return { project, pages, nav };
}

const isExternal = (url) => /^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//');

/** hrefFrom is the relative URL from one output file to another (both site-relative). */
function hrefFrom(fromHtml, toHtml) {
  const rel = path.posix.relative(path.posix.dirname(fromHtml), toHtml);
  return rel === '' ? path.posix.basename(toHtml) : rel;
}

/** markSourceDir records where each local link/image was written, so an {include}d
 * file's relative links resolve against its own directory, not the page's. */
function markSourceDir(tree, dir) {
  visit(tree, (node) => {
    if ((node.type === 'link' || node.type === 'image') && node.url && node.sourceDir === undefined) {
      node.sourceDir = dir;
    }
  });
}

function parse(content, vfile, dir) {
  const tree = mystParse(content, { vfile, markdownit: { linkify: false } });
  markSourceDir(tree, dir);
  return tree;
}

/** dropRepeatedTitle removes a leading H1 that repeats the page title (the template
 * prints the title; an {include}d README usually starts with the same heading). */
function dropRepeatedTitle(tree, title) {
  let done = false;
  visit(tree, 'heading', (node, index, parent) => {
    if (done) return false;
    done = true;
    if (node.depth === 1 && parent && toText(node.children).trim() === String(title ?? '').trim()) {
      parent.children.splice(index, 1);
    }
    return false;
  });
}

/** loadPage parses one page, expands its {include}s and runs the per-page transforms
 * (the same ones mystmd runs before cross-page reference resolution). */
async function loadPage(page) {
  const vfile = new VFile({ path: page.src });
  page.vfile = vfile;
  const tree = parse(fs.readFileSync(page.src, 'utf8'), vfile, path.dirname(page.src));
  const { frontmatter } = getFrontmatter(vfile, tree, { propagateTargets: true });
  page.frontmatter = frontmatter;
  page.title = page.tocTitle ?? frontmatter.title;
  if (!page.title) {
    fileError(vfile, 'page has no title: start it with a "# Heading" or set title in its front matter');
  }
  await includeDirectiveTransform(tree, frontmatter, vfile, {
    sourceFile: page.src,
    sourcePath: page.src,
    resolveFile: (file, sourceFile) => {
      const full = path.resolve(path.dirname(sourceFile), file);
      if (!fs.existsSync(full)) {
        fileError(vfile, `{include}: "${file}" not found (${full})`);
        return undefined;
      }
      return full;
    },
    loadFile: (full) => fs.readFileSync(full, 'utf8'),
    parseContent: (full, content) => {
      const mdast = parse(content, vfile, path.dirname(full));
      return { mdast, frontmatter: {} };
    },
  });
  // myst-to-html renders an include node as an empty <div>: put its content in its place.
  liftChildren(tree, 'include');
  selectAll('block', tree).forEach((block) => liftChildren(block, 'include'));
  dropRepeatedTitle(tree, page.title);
  page.state = new ReferenceState(page.rel, { frontmatter, vfile, url: page.html, identifiers: [] });
  await unified()
    .use(reconstructHtmlPlugin)
    .use(htmlPlugin)
    .use(basicTransformationsPlugin, { parser: (content) => parse(content, vfile, path.dirname(page.src)) })
    .use(inlineMathSimplificationPlugin)
    .use(mathPlugin, { macros: frontmatter.math ?? {} })
    .use(glossaryPlugin)
    .use(abbreviationPlugin, { abbreviations: frontmatter.abbreviations })
    .use(footnotesPlugin)
    .use(enumerateTargetsPlugin, { state: page.state })
    .use(codePlugin, { lang: 'text' })
    .run(tree, vfile);
  page.tree = tree;
  return page;
}

/** rewriteLinks turns links to .md pages into links to their .html page, copies linked
 * files under docs/ into the site, points other repository files at project.github,
 * and reports everything else. */
function rewriteLinks(page, ctx) {
  for (const node of selectAll('link,image', page.tree)) {
    const url = node.url ?? '';
    if (!url || url.startsWith('#') || isExternal(url)) continue;
    const [rawPath, ...fragParts] = url.split('#');
    const frag = fragParts.join('#');
    const target = path.resolve(node.sourceDir ?? path.dirname(page.src), decodeURIComponent(rawPath));
    const targetPage = ctx.pages.find((p) => p.src === target);
    if (targetPage && node.type === 'link') {
      node.url = hrefFrom(page.html, targetPage.html) + (frag ? `#${frag}` : '');
      node.internal = true;
      continue;
    }
    const inDocs = !path.relative(ctx.docsDir, target).startsWith('..');
    if (fs.existsSync(target) && fs.statSync(target).isFile() && inDocs && !/\.(md|markdown)$/i.test(target)) {
      const rel = path.relative(ctx.docsDir, target).split(path.sep).join('/');
      ctx.assets.add(rel);
      node.url = hrefFrom(page.html, rel) + (frag ? `#${frag}` : '');
      continue;
    }
    const repoRoot = path.dirname(ctx.docsDir);
    if (fs.existsSync(target) && ctx.project.github && !path.relative(repoRoot, target).startsWith('..')) {
      const rel = path.relative(repoRoot, target).split(path.sep).join('/');
      node.url = `${String(ctx.project.github).replace(/\/+$/, '')}/blob/HEAD/${rel}` + (frag ? `#${frag}` : '');
      continue;
    }
    const why = /\.(md|markdown)$/i.test(target)
      ? 'is not a page in myst.yml\'s toc'
      : fs.existsSync(target)
        ? 'is outside docs/ (set project.github in myst.yml to link repository files)'
        : 'does not exist';
    fileError(page.vfile, `${node.type} "${url}": ${path.relative(repoRoot, target) || target} ${why}`, { node });
  }
}

/** finishReferences resolves {ref}/[](#label) against every page, then makes each
 * reference a plain link to page.html#html-id (myst-to-html renders references as
 * same-page anchors) and gives every target its html id. */
function finishReferences(page, ctx) {
  const resolver = new MultiPageReferenceResolver(ctx.states, page.rel, page.vfile);
  resolveLinksAndCitationsTransform(page.tree, { state: resolver });
  resolveReferencesTransform(page.tree, page.vfile, { state: resolver });
  visit(page.tree, 'crossReference', (node) => {
    if (!node.resolved) {
      fileError(page.vfile, `reference "${node.label ?? node.identifier}" has no target on any page`, { node });
      return;
    }
    const owner = ctx.pages.find((p) => p.state.getTarget(node.identifier)) ?? page;
    const target = owner.state.getTarget(node.identifier);
    const id = target?.node?.html_id ?? createHtmlId(node.identifier);
    node.type = 'link';
    node.url = (owner === page ? '' : hrefFrom(page.html, owner.html)) + `#${id}`;
    node.internal = true;
  });
  visit(page.tree, (node) => {
    if (node.html_id && node.type !== 'link') node.identifier = node.html_id;
  });
}

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function renderNav(items, current) {
  const lis = items.map((item) => {
    const sub = item.children.length ? renderNav(item.children, current) : '';
    if (item.title) return `<li class="section"><span>${escapeHtml(item.title)}</span>${sub}</li>`;
    const here = item.page === current ? ' aria-current="page"' : '';
    return `<li><a href="${escapeHtml(hrefFrom(current.html, item.page.html))}"${here}>${escapeHtml(item.page.title)}</a>${sub}</li>`;
  });
  return `<ul>${lis.join('')}</ul>`;
}

function renderPage(page, i, ctx) {
  const body = mystToHtml(page.tree, {
    hast: { allowDangerousHtml: true },
    stringifyHtml: { allowDangerousHtml: true },
  });
  const siteTitle = ctx.project.title ?? ctx.pages[0].title;
  const css = hrefFrom(page.html, 'site.css');
  const prev = ctx.pages[i - 1];
  const next = ctx.pages[i + 1];
  const pager = [
    prev ? `<a class="prev" href="${escapeHtml(hrefFrom(page.html, prev.html))}">← ${escapeHtml(prev.title)}</a>` : '',
    next ? `<a class="next" href="${escapeHtml(hrefFrom(page.html, next.html))}">${escapeHtml(next.title)} →</a>` : '',
  ].join('');
  const pageTitle = page.title === siteTitle ? siteTitle : `${page.title} - ${siteTitle}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(pageTitle)}</title>
${ctx.project.description ? `<meta name="description" content="${escapeHtml(ctx.project.description)}">\n` : ''}<meta name="generator" content="${escapeHtml(ctx.generator)}">
<link rel="stylesheet" href="${escapeHtml(css)}">
</head>
<body>
<nav class="sidebar" aria-label="Pages">
<a class="site-title" href="${escapeHtml(hrefFrom(page.html, 'index.html'))}">${escapeHtml(siteTitle)}</a>
${renderNav(ctx.nav, page)}
</nav>
<main>
<article>
<h1 class="page-title">${escapeHtml(page.title)}</h1>
${body}
</article>
<footer><nav class="pager" aria-label="Previous and next page">${pager}</nav>
<p class="built">Source: docs/${escapeHtml(page.rel)}. Built with the MyST engine (${escapeHtml(ctx.generator)}).</p></footer>
</main>
</body>
</html>
`;
}

const SITE_CSS = `*{box-sizing:border-box}
body{margin:0;display:flex;font:16px/1.6 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#fff}
.sidebar{flex:0 0 16rem;min-height:100vh;padding:1.25rem 1rem;background:#f6f8fa;border-right:1px solid #d0d7de;position:sticky;top:0;align-self:flex-start;max-height:100vh;overflow:auto}
.sidebar ul{list-style:none;margin:0;padding:0}.sidebar ul ul{padding-left:.9rem}
.sidebar li{margin:.15rem 0}.sidebar li.section>span{display:block;margin-top:.8rem;font-size:.8rem;font-weight:600;text-transform:uppercase;color:#59636e}
.sidebar a{color:#1f2328;text-decoration:none}.sidebar a:hover{text-decoration:underline}
.sidebar a[aria-current]{font-weight:600;color:#0969da}
.site-title{display:block;font-weight:700;font-size:1.1rem;margin-bottom:.8rem}
main{flex:1;min-width:0;padding:1.5rem 2.5rem;max-width:60rem}
a{color:#0969da}
h1,h2,h3,h4{line-height:1.25;margin-top:1.6em}h1.page-title{margin-top:0}
h2{border-bottom:1px solid #d0d7de;padding-bottom:.3em}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eff1f3;padding:.1em .3em;border-radius:4px}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.8rem 1rem;overflow:auto;line-height:1.45}
pre code{background:none;padding:0}
table{border-collapse:collapse;display:block;overflow:auto;margin:1rem 0}th,td{border:1px solid #d0d7de;padding:.35rem .7rem;vertical-align:top}th{background:#f6f8fa}
blockquote{margin:1rem 0;padding:0 1rem;color:#59636e;border-left:.25rem solid #d0d7de}
aside.admonition{border-left:.25rem solid #0969da;background:#f6f8fa;padding:.5rem 1rem;margin:1rem 0}
aside.admonition.warning,aside.admonition.caution,aside.admonition.danger{border-color:#bf8700}
.admonition-title{font-weight:600;margin:.2rem 0}
footer{margin-top:3rem;border-top:1px solid #d0d7de;padding-top:1rem;color:#59636e;font-size:.9rem}
.pager{display:flex;justify-content:space-between}.pager .next{margin-left:auto}
@media (max-width:800px){body{display:block}.sidebar{position:static;min-height:0;max-height:none;border-right:0;border-bottom:1px solid #d0d7de}main{padding:1rem}}
`;

/** checkSite reads every written page back and checks each local href/src (and its
 * #fragment) against the files and ids actually in the site. */
function checkSite(outDir, pages) {
  const files = pages.map((p) => p.html);
  const source = new Map(pages.map((p) => [p.html, `${p.html} (from ${p.rel})`]));
  const ids = new Map();
  const html = new Map();
  for (const f of files) {
    const text = fs.readFileSync(path.join(outDir, f), 'utf8');
    html.set(f, text);
    ids.set(f, new Set([...text.matchAll(/\sid="([^"]*)"/g)].map((m) => m[1])));
  }
  const problems = [];
  for (const [f, text] of html) {
    for (const m of text.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
      const url = m[1].replace(/&amp;/g, '&');
      if (isExternal(url)) continue;
      const [p, frag] = url.split('#');
      const target = p === '' ? f : path.posix.normalize(path.posix.join(path.posix.dirname(f), decodeURIComponent(p)));
      if (!fs.existsSync(path.join(outDir, target))) {
        problems.push(`${source.get(f)}: link "${url}" points at ${target}, which the site does not have`);
      } else if (frag && ids.has(target) && !ids.get(target).has(decodeURIComponent(frag))) {
        problems.push(`${source.get(f)}: link "${url}": ${target} has no id "${frag}"`);
      }
    }
  }
  return problems;
}

function formatMessage(m, docsDir) {
  const file = m.file ? path.relative(path.dirname(docsDir), m.file) : '';
  const pos = m.line ? `:${m.line}${m.column ? `:${m.column}` : ''}` : '';
  return `${file}${pos}: ${m.reason ?? m.message}`;
}

function packageVersion(name) {
  const pkg = JSON.parse(fs.readFileSync(path.join(here, 'node_modules', name, 'package.json'), 'utf8'));
  return `${name} ${pkg.version}`;
}

export async function build({ docs, out }) {
  const started = Date.now();
  const { project, pages, nav } = readConfig(docs);
  const ctx = {
    docsDir: docs,
    project,
    pages,
    nav,
    assets: new Set(),
    generator: ['myst-parser', 'myst-transforms', 'myst-to-html'].map(packageVersion).join(', '),
  };
  for (const page of pages) await loadPage(page);
  ctx.states = pages.map((p) => p.state);
  for (const page of pages) {
    rewriteLinks(page, ctx);
    finishReferences(page, ctx);
  }
  const problems = [];
  const warnings = [];
  for (const page of pages) {
    for (const m of page.vfile.messages) {
      // Linking to a heading by its implicit id is how these docs link sections.
      if (m.ruleId === 'reference-target-explicit') continue;
      // A link or reference with no target is a broken page, not a style hint.
      const fatal = m.fatal || m.ruleId === 'reference-target-resolves';
      (fatal ? problems : warnings).push(formatMessage(m, docs));
    }
  }
  for (const w of warnings) console.error(`docs: warning: ${w}`);
  if (problems.length) throw new BuildError(problems);

  // Write into a fresh sibling directory and swap it in only when the whole site
  // checks out, so a failed build never leaves a half-written or stale-looking site.
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    fs.writeFileSync(path.join(tmp, 'site.css'), SITE_CSS);
    pages.forEach((page, i) => {
      const dest = path.join(tmp, page.html);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, renderPage(page, i, ctx));
    });
    for (const rel of ctx.assets) {
      fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
      fs.copyFileSync(path.join(docs, rel), path.join(tmp, rel));
    }
    const broken = checkSite(tmp, pages);
    if (broken.length) throw new BuildError(broken);
    fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(tmp, out);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { pages: pages.length, assets: ctx.assets.size, ms: Date.now() - started };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    const r = await build(opts);
    console.log(`docs: built ${r.pages} pages (${r.assets} files copied) into ${opts.out} in ${r.ms} ms`);
  } catch (err) {
    console.error(`docs: build failed: ${err instanceof BuildError ? err.message : err.stack}`);
    process.exit(1);
  }
}
