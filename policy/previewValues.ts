/**
 * CrossGuard hands policies their properties behind a proxy that throws UnknownValueError on
 * any value Pulumi cannot know during preview (an ID or address assigned at creation). This
 * turns it into plain data, with such values replaced by `unknownDuringPreview`, so the rules
 * stay pure functions that never throw and can be tested on plain objects.
 */
import { UnknownValueError } from "@pulumi/policy";
import { unknownDuringPreview } from "./rules";

export function knownValues(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    const read = (key: string | number): unknown => {
        try {
            return knownValues((value as Record<string | number, unknown>)[key]);
        } catch (error) {
            if (error instanceof UnknownValueError) return unknownDuringPreview;
            throw error;
        }
    };
    if (Array.isArray(value)) return Array.from({ length: value.length }, (_, index) => read(index));
    return Object.fromEntries(Object.keys(value).map((key) => [key, read(key)]));
}
