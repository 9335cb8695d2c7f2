namespace PartialReplica.Schema;

/// <summary>
/// Whether ids compare by bytes in a database: leader and follower both decide by it whether a range of ids (cut in
/// byte order, as the grant table's "C" collation orders them) means the same on their own tables.
/// </summary>
internal static class ByteOrderSql
{
    /// <summary>
    /// A statement answering whether the <c>resource_id</c> column of every relation in <paramref name="relations"/> (a
    /// SQL list of regclass literals) orders by bytes: collation C or POSIX, the column's own or the database's.
    /// </summary>
    public static string ResourceIdsOrderByBytes(string relations) => $"""
        SELECT bool_and(CASE WHEN c.collname = 'default'
                             THEN d.datcollate IN ('C', 'POSIX') AND coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c'
                             ELSE c.collprovider = 'c' AND c.collcollate IN ('C', 'POSIX') END)
          FROM pg_attribute a
          JOIN pg_collation c ON c.oid = a.attcollation
          JOIN pg_database d ON d.datname = current_database()
         WHERE a.attrelid IN ({relations}) AND a.attname = 'resource_id'
        """;
}
