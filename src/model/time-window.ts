export interface TimeWindowOptions<T> {
  /** How long items are gathered after one was sent, in ms. */
  windowMs: number;
  /** `held` and `next` as one item, or undefined when they must stay apart. */
  merge(held: T, next: T): T | undefined;
  /** Items that are never held: they end the window, after what it gathered. */
  passesThrough(item: T): boolean;
}

/**
 * Gathers items that arrive within `windowMs` of each other into fewer items. The first item
 * after a quiet spell (or after a pass-through item) goes on at once; later ones wait at most
 * `windowMs`, and every period of a busy stream sends what it gathered. Order is kept. When
 * `source` ends or fails, what is held goes on first, so nothing is lost to the window.
 */
export function gatherWithin<T>(source: ReadableStream<T>, { windowMs, merge, passesThrough }: TimeWindowOptions<T>): ReadableStream<T> {
  const reader = source.getReader();
  let held: T | undefined;
  // One interval for a busy spell, not a timeout per window: arming a timer is one of the
  // dearest things a streamed token did (README "Performance"). A tick with nothing held ends it.
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;

  const closeWindow = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };

  return new ReadableStream<T>({
    start(controller) {
      const release = () => {
        if (held === undefined) return;
        const item = held;
        held = undefined;
        controller.enqueue(item);
      };
      const onWindowEnd = () => {
        if (held === undefined || stopped) return closeWindow();
        release();
      };
      // Pushes as fast as the source gives: the consumers (a provider's parser, the SDK) read
      // continuously, and holding back would only delay tokens.
      const pump = async () => {
        for (;;) {
          let next: ReadableStreamReadResult<T>;
          try {
            next = await reader.read();
          } catch (error) {
            if (stopped) return;
            closeWindow();
            release();
            controller.error(error);
            return;
          }
          if (stopped) return;
          if (next.done) {
            closeWindow();
            release();
            controller.close();
            return;
          }
          const item = next.value;
          if (passesThrough(item)) {
            closeWindow();
            release();
            controller.enqueue(item);
          } else if (timer === undefined) {
            release();
            controller.enqueue(item);
            timer = setInterval(onWindowEnd, windowMs);
          } else if (held === undefined) {
            held = item;
          } else {
            const merged = merge(held, item);
            if (merged === undefined) {
              release();
              held = item;
            } else held = merged;
          }
        }
      };
      void pump();
    },
    cancel(reason) {
      stopped = true;
      closeWindow();
      held = undefined;
      return reader.cancel(reason);
    },
  });
}
