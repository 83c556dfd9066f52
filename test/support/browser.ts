/**
 * What the real-browser tests share: Debian's Chromium with the switches that keep it headless,
 * sandbox-free (containers) and quiet on the network, and a count of the beacon requests the
 * server answered, read from its request log.
 */
import { type Browser, type BrowserServer, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Headless, no sandbox (containers), and nothing talking to the network on its own. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-breakpad',
  '--metrics-recording-only',
  '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication',
  '--password-store=basic',
  // /dev/shm is small in containers; Chromium then crashes on its own.
  '--disable-dev-shm-usage',
];
/** How long to wait for a beacon before the test fails saying which one never came (a guard against hanging, not a timing assertion). */
export const BEACON_PATIENCE_MS = 20_000;

/** Counts the beacon requests the server answered, from its request log (`POST /1/beacons/web?key=… 202 …`). */
export class BeaconLog {
  accepted = 0;
  readonly refused: string[] = [];
  private waiters: (() => void)[] = [];

  readonly line = (line: string): void => {
    const match = /^POST \/1\/beacons\/([^?\s]+)\S* (\d{3}) /.exec(line);
    if (match === null) return;
    if (match[2]?.startsWith('2') === true) this.accepted++;
    else this.refused.push(line.replace(/key=[^\s&]+/, 'key=…'));
    for (const wake of this.waiters.splice(0)) wake();
  };

  /** Resolves once `accepted` reaches `count` and `refused` reaches `refusedCount`; rejects naming `what` when more are refused or they do not come. */
  async reach(count: number, what: string, refusedCount = this.refused.length): Promise<void> {
    const done = () => this.accepted >= count && this.refused.length >= refusedCount;
    let timer: NodeJS.Timeout | undefined;
    const patience = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${what}: ${this.accepted} of ${count} beacons accepted, ${this.refused.length} refused (${this.refused.join('; ')}) after ${BEACON_PATIENCE_MS} ms`,
            ),
          ),
        BEACON_PATIENCE_MS,
      );
    });
    try {
      while (!done()) {
        if (this.refused.length > refusedCount) throw new Error(`${what}: a beacon was refused: ${this.refused.join('; ')}`);
        await Promise.race([new Promise<void>((wake) => this.waiters.push(wake)), patience]);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Launches a Chromium of its own (its process is the caller's to kill), remembered in `launched` for clean-up. */
export async function launchChromium(launched: BrowserServer[]): Promise<{ browserServer: BrowserServer; browser: Browser }> {
  const browserServer = await chromium.launchServer({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  launched.push(browserServer);
  const browser = await chromium.connect(browserServer.wsEndpoint());
  return { browserServer, browser };
}
