/** A counting semaphore: at most `limit` holders at once, served in arrival order. */
export class Semaphore {
    private active = 0;
    private readonly queue: (() => void)[] = [];

    constructor(readonly limit: number) {
        if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit ${limit}: must be a whole number ≥ 1`);
    }

    async acquire(): Promise<void> {
        if (this.active < this.limit) {
            this.active++;
            return;
        }
        // The releasing holder hands its slot straight to the next waiter (active stays the same).
        await new Promise<void>((resolve) => this.queue.push(resolve));
    }

    /** Takes a slot if one is free now; never waits (a full holder lets the caller look elsewhere). */
    tryAcquire(): boolean {
        // A waiter exists only while every slot is held, so this never jumps the queue.
        if (this.active >= this.limit) return false;
        this.active++;
        return true;
    }

    release(): void {
        const next = this.queue.shift();
        if (next) next();
        else this.active--;
    }

    /** Runs `task` holding a slot. */
    async run<T>(task: () => Promise<T>): Promise<T> {
        await this.acquire();
        try {
            return await task();
        } finally {
            this.release();
        }
    }
}
