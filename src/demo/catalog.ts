/**
 * The world the demo data describes: services and their routes, the feature
 * flags every user is bucketed into, the hidden regression and a short
 * incident. Exported so tests, the demo narrative and later demo steps (flags,
 * kill switches, comparisons) describe the same thing the generator produced.
 */
import type { FlagDefinition, JsonValue, Rollout } from '../flags/model.js';

/** Dataset name the demo writes to. */
export const DEMO_DATASET = 'shop';

export interface DemoRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Route template, e.g. `/products/{id}`. */
  route: string;
  /** Share of the service's traffic. */
  weight: number;
  /** Median latency in milliseconds. */
  medianMs: number;
  /** Standard deviation of log-latency: the lognormal's spread. */
  sigma: number;
  /** Probability of a server error (status >= 500). */
  errorRate: number;
  /** Mean number of database calls (0: the route touches no database). */
  dbCalls: number;
  /** True for high-volume reads whose fast successes are sampled 1 in 10 when sampling is on. */
  sampled?: boolean;
}

export interface DemoService {
  name: string;
  /** Share of all user traffic. */
  weight: number;
  language: 'nodejs' | 'go' | 'java' | 'python';
  dbSystem: 'postgresql' | 'mysql' | 'redis' | 'elasticsearch' | null;
  /** Version before and after the deploy that happens during the window. */
  versions: [string, string];
  /** Fraction of the time window at which the new version rolls out. */
  deployAt: number;
  pods: number;
  /** The dependency called on each request, if any. */
  upstream: string | null;
  routes: DemoRoute[];
  errorMessages: string[];
}

export const DEMO_SERVICES: readonly DemoService[] = [
  {
    name: 'api-gateway',
    weight: 0.27,
    language: 'go',
    dbSystem: null,
    versions: ['3.8.1', '3.8.2'],
    deployAt: 0.35,
    pods: 6,
    upstream: 'auth',
    routes: [
      { method: 'GET', route: '/api/home', weight: 0.3, medianMs: 38, sigma: 0.45, errorRate: 0.004, dbCalls: 0, sampled: true },
      { method: 'GET', route: '/api/products/{id}', weight: 0.45, medianMs: 52, sigma: 0.5, errorRate: 0.005, dbCalls: 0, sampled: true },
      { method: 'GET', route: '/api/recommendations', weight: 0.25, medianMs: 115, sigma: 0.6, errorRate: 0.01, dbCalls: 0 },
    ],
    errorMessages: ['upstream connect error or disconnect/reset before headers', 'context deadline exceeded', 'no healthy upstream'],
  },
  {
    name: 'search',
    weight: 0.17,
    language: 'java',
    dbSystem: 'elasticsearch',
    versions: ['12.4.0', '12.4.0'],
    deployAt: 1,
    pods: 4,
    upstream: null,
    routes: [
      { method: 'GET', route: '/search', weight: 0.45, medianMs: 85, sigma: 0.65, errorRate: 0.008, dbCalls: 1 },
      { method: 'GET', route: '/search/suggest', weight: 0.55, medianMs: 14, sigma: 0.5, errorRate: 0.003, dbCalls: 1, sampled: true },
    ],
    errorMessages: [
      'search_phase_execution_exception: all shards failed',
      'java.net.SocketTimeoutException: Read timed out',
      'circuit_breaking_exception: data too large',
    ],
  },
  {
    name: 'cart',
    weight: 0.17,
    language: 'nodejs',
    dbSystem: 'redis',
    versions: ['5.2.0', '5.3.0'],
    deployAt: 0.55,
    pods: 4,
    upstream: 'inventory',
    routes: [
      { method: 'GET', route: '/cart', weight: 0.5, medianMs: 24, sigma: 0.5, errorRate: 0.008, dbCalls: 2, sampled: true },
      { method: 'POST', route: '/cart/items', weight: 0.35, medianMs: 48, sigma: 0.55, errorRate: 0.015, dbCalls: 3 },
      { method: 'DELETE', route: '/cart/items/{id}', weight: 0.15, medianMs: 31, sigma: 0.5, errorRate: 0.008, dbCalls: 2 },
    ],
    errorMessages: ['ECONNRESET: socket hang up', 'redis: connection pool exhausted', 'cart version conflict after 3 retries'],
  },
  {
    name: 'checkout',
    weight: 0.11,
    language: 'nodejs',
    dbSystem: 'postgresql',
    versions: ['9.0.4', '9.1.0'],
    deployAt: 0.6,
    pods: 4,
    upstream: 'payments',
    routes: [
      { method: 'POST', route: '/checkout', weight: 0.55, medianMs: 240, sigma: 0.5, errorRate: 0.018, dbCalls: 6 },
      { method: 'GET', route: '/checkout/shipping-options', weight: 0.45, medianMs: 68, sigma: 0.5, errorRate: 0.01, dbCalls: 2 },
    ],
    errorMessages: ['deadlock detected', 'shipping quote service unavailable', 'order total mismatch'],
  },
  {
    name: 'payments',
    weight: 0.08,
    language: 'java',
    dbSystem: 'postgresql',
    versions: ['4.17.2', '4.17.2'],
    deployAt: 1,
    pods: 3,
    upstream: 'payment-provider',
    routes: [
      { method: 'POST', route: '/payments/authorize', weight: 0.6, medianMs: 310, sigma: 0.45, errorRate: 0.01, dbCalls: 3 },
      { method: 'POST', route: '/payments/capture', weight: 0.4, medianMs: 175, sigma: 0.45, errorRate: 0.008, dbCalls: 2 },
    ],
    errorMessages: ['payment provider timeout', 'card_declined: insufficient_funds', 'idempotency key reused with different payload'],
  },
  {
    name: 'auth',
    weight: 0.12,
    language: 'go',
    dbSystem: 'postgresql',
    versions: ['2.31.0', '2.31.0'],
    deployAt: 1,
    pods: 3,
    upstream: null,
    routes: [
      { method: 'GET', route: '/session', weight: 0.55, medianMs: 7, sigma: 0.45, errorRate: 0.002, dbCalls: 1, sampled: true },
      { method: 'POST', route: '/token/refresh', weight: 0.3, medianMs: 12, sigma: 0.45, errorRate: 0.003, dbCalls: 1, sampled: true },
      { method: 'POST', route: '/login', weight: 0.15, medianMs: 95, sigma: 0.5, errorRate: 0.006, dbCalls: 2 },
    ],
    errorMessages: ['jwt: signing key not found', 'pq: too many connections', 'rate limiter backend unavailable'],
  },
  {
    name: 'inventory',
    weight: 0.08,
    language: 'python',
    dbSystem: 'mysql',
    versions: ['1.9.3', '1.9.3'],
    deployAt: 1,
    pods: 3,
    upstream: null,
    routes: [
      { method: 'GET', route: '/inventory/{sku}', weight: 1, medianMs: 9, sigma: 0.55, errorRate: 0.004, dbCalls: 1, sampled: true },
    ],
    errorMessages: ['MySQL server has gone away', 'lock wait timeout exceeded'],
  },
];

export type DemoFlagKind = 'release' | 'experiment' | 'operational' | 'kill-switch' | 'permission';

export interface DemoVariant {
  name: string;
  value: boolean | string;
  /** Rollout weight in percent; the weights of one flag sum to 100. */
  weight: number;
}

export interface DemoFlag {
  key: string;
  service: string;
  kind: DemoFlagKind;
  description: string;
  variants: DemoVariant[];
  defaultVariant: string;
  /** Kill switches only: the variant served while the button is pressed. */
  safeVariant?: string;
}

const onOff = (onPercent: number): DemoVariant[] => [
  { name: 'on', value: true, weight: onPercent },
  { name: 'off', value: false, weight: 100 - onPercent },
];
const controlTreatment = (treatmentPercent = 50): DemoVariant[] => [
  { name: 'control', value: 'control', weight: 100 - treatmentPercent },
  { name: 'treatment', value: 'treatment', weight: treatmentPercent },
];

/** The 30 flags every user is bucketed into; each becomes a `flag.<key>` column holding the variant name. */
export const DEMO_FLAGS: readonly DemoFlag[] = [
  {
    key: 'checkout_v2',
    service: 'checkout',
    kind: 'release',
    description: 'new checkout flow',
    variants: onOff(50),
    defaultVariant: 'off',
  },
  {
    key: 'new_cart',
    service: 'cart',
    kind: 'release',
    description: 'rewritten cart page and cart API client',
    variants: onOff(40),
    defaultVariant: 'off',
  },
  {
    key: 'dark_mode',
    service: 'api-gateway',
    kind: 'release',
    description: 'dark colour scheme',
    variants: onOff(30),
    defaultVariant: 'off',
  },
  {
    key: 'search_ranking_v3',
    service: 'search',
    kind: 'experiment',
    description: 'learning-to-rank search ordering',
    variants: controlTreatment(),
    defaultVariant: 'control',
  },
  {
    key: 'recommendations_ml',
    service: 'api-gateway',
    kind: 'experiment',
    description: 'model-based product recommendations',
    variants: controlTreatment(),
    defaultVariant: 'control',
  },
  {
    key: 'one_click_buy',
    service: 'checkout',
    kind: 'release',
    description: 'buy now button on product pages',
    variants: onOff(10),
    defaultVariant: 'off',
  },
  {
    key: 'express_shipping',
    service: 'checkout',
    kind: 'release',
    description: 'express shipping option',
    variants: onOff(25),
    defaultVariant: 'off',
  },
  {
    key: 'gift_wrap',
    service: 'checkout',
    kind: 'release',
    description: 'gift wrapping at checkout',
    variants: onOff(15),
    defaultVariant: 'off',
  },
  {
    key: 'promo_banner',
    service: 'api-gateway',
    kind: 'experiment',
    description: 'home page promotion banner',
    variants: [
      { name: 'control', value: 'none', weight: 34 },
      { name: 'variant_a', value: 'free-shipping', weight: 33 },
      { name: 'variant_b', value: 'ten-percent-off', weight: 33 },
    ],
    defaultVariant: 'control',
  },
  { key: 'new_login_flow', service: 'auth', kind: 'release', description: 'single-page login', variants: onOff(60), defaultVariant: 'off' },
  {
    key: 'passwordless_auth',
    service: 'auth',
    kind: 'release',
    description: 'magic-link sign in',
    variants: onOff(5),
    defaultVariant: 'off',
  },
  {
    key: 'strict_rate_limit',
    service: 'api-gateway',
    kind: 'operational',
    description: 'lower per-user request limit',
    variants: onOff(10),
    defaultVariant: 'off',
  },
  {
    key: 'edge_cache',
    service: 'api-gateway',
    kind: 'operational',
    description: 'serve product pages from the edge cache',
    variants: onOff(80),
    defaultVariant: 'on',
  },
  {
    key: 'image_cdn_v2',
    service: 'api-gateway',
    kind: 'release',
    description: 'new image CDN',
    variants: onOff(70),
    defaultVariant: 'off',
  },
  {
    key: 'lazy_images',
    service: 'api-gateway',
    kind: 'release',
    description: 'lazy-load product images',
    variants: onOff(90),
    defaultVariant: 'on',
  },
  {
    key: 'price_rounding',
    service: 'cart',
    kind: 'experiment',
    description: 'charm pricing in the cart',
    variants: controlTreatment(),
    defaultVariant: 'control',
  },
  {
    key: 'currency_autodetect',
    service: 'cart',
    kind: 'release',
    description: 'currency from the visitor country',
    variants: onOff(35),
    defaultVariant: 'off',
  },
  {
    key: 'address_autocomplete',
    service: 'checkout',
    kind: 'release',
    description: 'address autocompletion',
    variants: onOff(45),
    defaultVariant: 'off',
  },
  {
    key: 'saved_cards',
    service: 'payments',
    kind: 'release',
    description: 'remember cards for returning users',
    variants: onOff(55),
    defaultVariant: 'off',
  },
  {
    key: 'apple_pay',
    service: 'payments',
    kind: 'release',
    description: 'Apple Pay as a payment method',
    variants: onOff(30),
    defaultVariant: 'off',
  },
  {
    key: 'paypal_button',
    service: 'payments',
    kind: 'experiment',
    description: 'PayPal button placement',
    variants: controlTreatment(),
    defaultVariant: 'control',
  },
  {
    key: 'inventory_realtime',
    service: 'inventory',
    kind: 'release',
    description: 'real-time stock levels',
    variants: onOff(20),
    defaultVariant: 'off',
  },
  {
    key: 'search_typo_tolerance',
    service: 'search',
    kind: 'release',
    description: 'fuzzy matching of search terms',
    variants: onOff(65),
    defaultVariant: 'off',
  },
  {
    key: 'reviews_widget',
    service: 'api-gateway',
    kind: 'experiment',
    description: 'reviews on product pages',
    variants: controlTreatment(),
    defaultVariant: 'control',
  },
  { key: 'wishlist', service: 'cart', kind: 'release', description: 'save items for later', variants: onOff(25), defaultVariant: 'off' },
  {
    key: 'loyalty_points',
    service: 'checkout',
    kind: 'experiment',
    description: 'loyalty points multiplier',
    variants: [
      { name: 'control', value: 'none', weight: 50 },
      { name: 'points_1x', value: '1x', weight: 25 },
      { name: 'points_2x', value: '2x', weight: 25 },
    ],
    defaultVariant: 'control',
  },
  {
    key: 'recommendations_enabled',
    service: 'api-gateway',
    kind: 'kill-switch',
    description: 'product recommendations',
    variants: onOff(100),
    defaultVariant: 'on',
    safeVariant: 'off',
  },
  {
    key: 'payments_retry_enabled',
    service: 'payments',
    kind: 'kill-switch',
    description: 'automatic retries against the payment provider',
    variants: onOff(100),
    defaultVariant: 'on',
    safeVariant: 'off',
  },
  {
    key: 'search_suggest_enabled',
    service: 'search',
    kind: 'kill-switch',
    description: 'search-as-you-type suggestions',
    variants: onOff(100),
    defaultVariant: 'on',
    safeVariant: 'off',
  },
  {
    key: 'beta_features',
    service: 'auth',
    kind: 'permission',
    description: 'access to beta features',
    variants: onOff(3),
    defaultVariant: 'off',
  },
];

/**
 * The percentage rollout of a demo flag, or `undefined` when one variant
 * gets everyone (then it is the flag's default variant).
 */
export function demoFlagRollout(flag: DemoFlag): Rollout | undefined {
  const live = flag.variants.filter((v) => v.weight > 0);
  if (live.length < 2) return undefined;
  return { weights: flag.variants.map((v) => ({ variant: v.name, weight: v.weight })), precision: 0 };
}

/**
 * A demo flag as a flagscope flag definition, ready to create on the demo
 * server: the same variants and rollout the generated events were bucketed
 * with, so evaluating it for a `user.id` as targeting key gives the variant in
 * that user's events.
 */
export function demoFlagDefinition(flag: DemoFlag): FlagDefinition {
  const variants: Record<string, JsonValue> = {};
  for (const v of flag.variants) variants[v.name] = v.value;
  const rollout = demoFlagRollout(flag);
  const definition: FlagDefinition = {
    key: flag.key,
    service: flag.service,
    kind: flag.kind,
    description: flag.description,
    variants,
    defaultVariant: rollout === undefined ? (flag.variants.find((v) => v.weight > 0)?.name ?? flag.defaultVariant) : flag.defaultVariant,
    state: 'enabled',
  };
  if (rollout !== undefined) definition.rollout = rollout;
  if (flag.safeVariant !== undefined) definition.safeVariant = flag.safeVariant;
  return definition;
}

/**
 * The hidden regression: in the checkout and cart services, users who got
 * `flag.checkout_v2=on` and `flag.new_cart=on` and browse with Safari see
 * five times the error rate and 1.6 times the latency. Each flag alone looks
 * only mildly worse, because the combination is a small share of its users.
 */
export const HIDDEN_REGRESSION = {
  /** Column → value; all must match. */
  where: { 'flag.checkout_v2': 'on', 'flag.new_cart': 'on', browser: 'Safari' },
  flags: { checkout_v2: 'on', new_cart: 'on' },
  browser: 'Safari',
  services: ['checkout', 'cart'],
  errorRateMultiplier: 5,
  latencyMultiplier: 1.6,
  errorMessage: "TypeError: undefined is not an object (evaluating 'cart.lineItems.length')",
  /** Human wording for narratives and reports. */
  description: 'flag.checkout_v2=on AND flag.new_cart=on on browser=Safari',
} as const;

/**
 * A flag combination whose page executions go quiet: with the new image CDN and lazy images
 * off, a product page fetches every full-size image at once and phones kill the tab before the
 * page can send its end beacon. The executions that do finish fail and take as long as anyone
 * else's, so a dashboard of completed executions calls the combination healthy; only the
 * incomplete executions (`meta.incomplete = true`, when the generator's `incomplete` is on) give
 * it away.
 */
export const QUIET_EXECUTIONS = {
  /** Column → value; all must match. */
  where: { 'flag.image_cdn_v2': 'on', 'flag.lazy_images': 'off' },
  flags: { image_cdn_v2: 'on', lazy_images: 'off' },
  services: ['api-gateway'],
  /** Share of the combination's executions in those services whose end never arrives. */
  incompleteRate: 0.12,
  /** Human wording for narratives and reports. */
  description: 'flag.image_cdn_v2=on AND flag.lazy_images=off',
} as const;

/**
 * A short incident: the payment provider times out for a quarter of an hour,
 * so error rate over time shows a spike in an otherwise quiet day.
 */
export const PAYMENTS_INCIDENT = {
  service: 'payments',
  /** Start, as a fraction of the generated time window. */
  startFraction: 0.7,
  durationMs: 15 * 60_000,
  errorRate: 0.35,
  errorMessage: 'payment provider timeout',
} as const;

/** Sample rate given to kept boring events when sampling is on (1 in N kept). */
export const BORING_SAMPLE_RATE = 10;
