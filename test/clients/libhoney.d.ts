/** The parts of the untyped `libhoney` package the client test uses. */
declare module 'libhoney' {
  import { EventEmitter } from 'node:events';

  interface LibhoneyResponse {
    status_code?: number;
    duration?: number;
    metadata?: unknown;
    error?: unknown;
  }

  interface LibhoneyEvent {
    timestamp: Date | null;
    sampleRate: number;
    metadata: unknown;
    add(data: Record<string, unknown>): LibhoneyEvent;
    send(): void;
    sendPresampled(): void;
  }

  interface LibhoneyOptions {
    apiHost: string;
    writeKey: string;
    dataset: string;
    sampleRate?: number;
    batchSizeTrigger?: number;
    batchTimeTrigger?: number;
    maxConcurrentBatches?: number;
    pendingWorkCapacity?: number;
    maxResponseQueueSize?: number;
    timeout?: number;
  }

  export default class Libhoney extends EventEmitter {
    constructor(options: LibhoneyOptions);
    newEvent(): LibhoneyEvent;
    sendNow(data: Record<string, unknown>): void;
    flush(): Promise<void>;
    on(event: 'response', listener: (queue: LibhoneyResponse[]) => void): this;
  }
}
