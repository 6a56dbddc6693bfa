/** What port security drops is counted, and named by why in the rule's comment: the exporter sums them by table. */
export const DROP_COMMENT = 'port security: ';

/** A counted drop, named by why (`nft list table` shows the reason as the rule's comment). */
export const dropped = (why: string) => `counter drop comment ${JSON.stringify(`${DROP_COMMENT}${why}`)}`;
