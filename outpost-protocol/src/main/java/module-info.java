/** Outpost's protocol v1: the wire model, its JSON form, the hybrid logical clock and merge patches. */
module dev.outpost.protocol {
    requires transitive com.fasterxml.jackson.databind;

    exports dev.outpost.protocol;

    opens dev.outpost.protocol to com.fasterxml.jackson.databind;
}
