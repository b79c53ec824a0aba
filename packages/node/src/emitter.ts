/** A small typed event emitter: handlers run in order; one that throws does not stop the others. */
export class TypedEmitter<Events extends object> {
  private readonly handlers = new Map<keyof Events, ((payload: never) => void)[]>();

  on<E extends keyof Events>(event: E, handler: (payload: Events[E]) => void): () => void {
    if (typeof handler !== "function") throw new TypeError("handler must be a function");
    const list = this.handlers.get(event) ?? [];
    list.push(handler as (payload: never) => void);
    this.handlers.set(event, list);
    return () => this.off(event, handler);
  }

  off<E extends keyof Events>(event: E, handler: (payload: Events[E]) => void): void {
    const list = this.handlers.get(event);
    if (list === undefined) return;
    const i = list.indexOf(handler as (payload: never) => void);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.handlers.delete(event);
  }

  has(event: keyof Events): boolean {
    return this.handlers.has(event);
  }

  emit<E extends keyof Events>(event: E, payload: Events[E], onError: (err: unknown) => void): void {
    const list = this.handlers.get(event);
    if (list === undefined) return;
    for (const h of [...list]) {
      try {
        (h as (payload: Events[E]) => void)(payload);
      } catch (err) {
        onError(err);
      }
    }
  }
}
