/** Which trigger something belongs to: every layer passes this around, so it lives below them all. */
export interface TriggerRef {
  namespace: string;
  name: string;
  /** `namespace/name`, unique per hub. */
  key: string;
}
