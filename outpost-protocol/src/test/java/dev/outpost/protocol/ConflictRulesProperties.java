package dev.outpost.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** The conflict rules, as pure functions: every server node settles a conflict the same way. */
class ConflictRulesProperties {
    private static final String EARLY = "1700000000000-00000-a";
    private static final String LATE = "1700000005000-00000-b";

    private static Operation update(String patch, String hlc) {
        return new Operation("op", "notes", "n1", OpType.UPDATE, 1L, Wire.object(patch), hlc, Priority.NORMAL);
    }

    private static ServerRecord record(long version, String data, String hlc) {
        return new ServerRecord("notes", "n1", version, false, Wire.object(data), hlc);
    }

    @Property(tries = 300)
    void mergeOfChangesToDifferentFieldsKeepsBothWhicheverIsLater(
            @ForAll @IntRange(min = 0, max = 99) int mine, @ForAll @IntRange(min = 0, max = 99) int theirs,
            @ForAll boolean clientLater) {
        ServerRecord base = record(1, "{\"a\":0,\"b\":0,\"c\":\"same\"}", EARLY);
        ServerRecord current = record(2, "{\"a\":" + theirs + ",\"b\":0,\"c\":\"same\"}", clientLater ? EARLY : LATE);
        Operation op = update("{\"b\":" + mine + "}", clientLater ? LATE : EARLY);

        ConflictRules.Settlement settled = ConflictRules.settle(ConflictPolicy.MERGE, op, current, base, Set.of());

        assertThat(settled.winner()).isEqualTo(ConflictRules.Winner.MERGED);
        assertThat(settled.data()).isEqualTo(Wire.object("{\"a\":" + theirs + ",\"b\":" + mine + ",\"c\":\"same\"}"));
    }

    @Property(tries = 300)
    void countersAddBothSidesDeltas(@ForAll @IntRange(min = -50, max = 50) int mine,
            @ForAll @IntRange(min = -50, max = 50) int theirs) {
        ServerRecord base = record(1, "{\"n\":10}", EARLY);
        ServerRecord current = record(2, "{\"n\":" + (10 + theirs) + "}", EARLY);
        Operation op = update("{\"n\":" + (10 + mine) + "}", LATE);

        ObjectNode merged = ConflictRules.settle(ConflictPolicy.MERGE, op, current, base, Set.of("n")).data();

        assertThat(merged.get("n").asLong()).isEqualTo(10 + mine + theirs);
    }

    @Example
    void lastWriteWinsComparesTimestampsAndServerWinsKeepsTheRecord() {
        ServerRecord current = record(2, "{\"t\":\"server\"}", EARLY);
        Operation later = update("{\"t\":\"client\"}", LATE);
        Operation earlier = update("{\"t\":\"client\"}", "1699999999999-00000-c");

        assertThat(ConflictRules.settle(ConflictPolicy.LAST_WRITE_WINS, later, current, null, Set.of()).winner())
                .isEqualTo(ConflictRules.Winner.CLIENT);
        assertThat(ConflictRules.settle(ConflictPolicy.LAST_WRITE_WINS, earlier, current, null, Set.of()).winner())
                .isEqualTo(ConflictRules.Winner.SERVER);
        assertThat(ConflictRules.settle(ConflictPolicy.SERVER_WINS, later, current, null, Set.of()).data())
                .isEqualTo(current.data());
        assertThat(ConflictRules.settle(ConflictPolicy.MANUAL, later, current, null, Set.of()).winner())
                .isEqualTo(ConflictRules.Winner.SERVER);
    }

    @Example
    void clientWinsBringsADeletedRecordBackWithThePatch() {
        ServerRecord deleted = new ServerRecord("notes", "n1", 3, true, null, EARLY);
        ConflictRules.Settlement settled = ConflictRules.settle(ConflictPolicy.CLIENT_WINS, update("{\"t\":\"back\"}", LATE),
                deleted, null, Set.of());
        assertThat(settled.deleted()).isFalse();
        assertThat(settled.data()).isEqualTo(Wire.object("{\"t\":\"back\"}"));
    }

    @Example
    void mergeWithoutHistoryTakesThePatchedFieldsAsTheClientsChanges() {
        ServerRecord current = record(5, "{\"a\":\"server\",\"b\":\"server\"}", EARLY);
        ConflictRules.Settlement settled = ConflictRules.settle(ConflictPolicy.MERGE, update("{\"b\":\"client\"}", LATE),
                current, null, Set.of());
        assertThat(settled.data()).isEqualTo(Wire.object("{\"a\":\"server\",\"b\":\"client\"}"));
    }
}
