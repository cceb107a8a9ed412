// Our own Handlebars instance. Every template and partial is compiled when the
// Views are made, at start-up, and each is rendered once with no data, so a
// broken template or a missing partial stops the start rather than failing a
// respondent's request. Data is prepared in code so the markup stays
// logic-free. Every page and mail also gets `catalog` (the rule book's wording
// for the concerns) and `securityTeam` (who counts, in words). Everything a
// user typed is rendered with {{ }} (escaped); the only triple-stash is the
// layouts' {{{body}}}, which is our own rendered template.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import Handlebars from 'handlebars';
import { atLeast, CATALOG_WORDING, SECURITY_TEAM_WORDING, type MemberRole } from './rules.js';

export type TemplateData = Record<string, unknown>;

/** The folders under templates/ that hold whole templates (partials/ holds the pieces). */
const TEMPLATE_DIRS = ['pages', 'layouts', 'emails'];

export class TemplateError extends Error {}

export class Views {
  private readonly hbs = Handlebars.create();
  private readonly templates = new Map<string, Handlebars.TemplateDelegate>();
  private readonly shared = { catalog: CATALOG_WORDING, securityTeam: SECURITY_TEAM_WORDING };

  constructor(dir: string) {
    for (const file of readdirSync(join(dir, 'partials'))) {
      if (file.endsWith('.hbs')) this.hbs.registerPartial(basename(file, '.hbs'), readFileSync(join(dir, 'partials', file), 'utf8'));
    }
    this.hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    // {{#if (can session "admin")}}: whether the session's role reaches the one named.
    this.hbs.registerHelper('can', (session: { role?: MemberRole } | undefined, role: MemberRole) => !!session?.role && atLeast(session.role, role));
    for (const sub of TEMPLATE_DIRS) {
      for (const file of readdirSync(join(dir, sub))) {
        if (!file.endsWith('.hbs')) continue;
        const name = `${sub}/${basename(file, '.hbs')}`;
        try {
          // Plain-text mail is not HTML: escaping would show O'Brien as O&#x27;Brien.
          const template = this.hbs.compile(readFileSync(join(dir, sub, file), 'utf8'), { strict: false, noEscape: name.endsWith('.txt') });
          // Handlebars compiles on first use: use it now, so syntax errors and missing partials surface here.
          template({});
          this.templates.set(name, template);
        } catch (err) {
          throw new TemplateError(`templates/${name}.hbs: ${(err as Error).message}`);
        }
      }
    }
  }

  private template(name: string): Handlebars.TemplateDelegate {
    const t = this.templates.get(name);
    if (!t) throw new TemplateError(`no template templates/${name}.hbs`);
    return t;
  }

  /** A full HTML page: templates/pages/<page>.hbs inside templates/layouts/<layout>.hbs. */
  page(page: string, data: TemplateData, layout = 'main'): string {
    const withShared = { ...this.shared, ...data };
    const body = this.template(`pages/${page}`)(withShared);
    return this.template(`layouts/${layout}`)({ ...withShared, body });
  }

  /** An email as HTML and plain text: templates/emails/<name>.html.hbs and .txt.hbs. */
  email(name: string, data: TemplateData): { html: string; text: string } {
    const withShared = { ...this.shared, ...data };
    const html = this.template(`emails/${name}.html`)(withShared);
    const body = this.template(`layouts/email.html`)({ ...withShared, body: html });
    return { html: body, text: this.template(`emails/${name}.txt`)(withShared) };
  }
}
