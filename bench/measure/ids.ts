/**
 * The measurement ids, in the order the runner runs them: the vocabulary the session contract
 * (`cannotMeasure`), the CLIs and the measurements share, kept apart so none of them imports another.
 */
export const measurementIds = ["http", "guestbook", "iperf3", "latency", "scaling"] as const;
export type MeasurementId = (typeof measurementIds)[number];
