// Our own Handlebars instance: partials and templates are compiled once, on
// first use, and data is prepared in code so the markup stays logic-free.
// Every page and mail also gets `catalog` (the rule book's wording for the
// concerns: how many, and their names). Everything a user typed is rendered with {{ }} (escaped); the only
// triple-stash is the layout's {{{body}}}, which is our own rendered template.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import Handlebars from 'handlebars';
import { CATALOG_WORDING } from './rules.js';

export type TemplateData = Record<string, unknown>;

export class Views {
  private readonly hbs = Handlebars.create();
  private readonly cache = new Map<string, Handlebars.TemplateDelegate>();

  constructor(private readonly dir: string) {
    const partials = join(dir, 'partials');
    for (const file of readdirSync(partials)) {
      if (file.endsWith('.hbs')) {
        this.hbs.registerPartial(basename(file, '.hbs'), readFileSync(join(partials, file), 'utf8'));
      }
    }
    this.hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  }

  private template(name: string): Handlebars.TemplateDelegate {
    let t = this.cache.get(name);
    if (!t) {
      // Plain-text mail is not HTML: escaping would show O'Brien as O&#x27;Brien.
      const noEscape = name.endsWith('.txt');
      t = this.hbs.compile(readFileSync(join(this.dir, `${name}.hbs`), 'utf8'), { strict: false, noEscape });
      this.cache.set(name, t);
    }
    return t;
  }

  /** A full HTML page: templates/pages/<page>.hbs inside templates/layouts/<layout>.hbs. */
  page(page: string, data: TemplateData, layout = 'main'): string {
    const withCatalog = { catalog: CATALOG_WORDING, ...data };
    const body = this.template(`pages/${page}`)(withCatalog);
    return this.template(`layouts/${layout}`)({ ...withCatalog, body });
  }

  /** An email as HTML and plain text: templates/emails/<name>.html.hbs and .txt.hbs. */
  email(name: string, data: TemplateData): { html: string; text: string } {
    const withCatalog = { catalog: CATALOG_WORDING, ...data };
    const html = this.template(`emails/${name}.html`)(withCatalog);
    const body = this.template(`layouts/email.html`)({ ...withCatalog, body: html });
    return { html: body, text: this.template(`emails/${name}.txt`)(withCatalog) };
  }
}
