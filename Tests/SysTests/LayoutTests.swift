import Testing

@testable import EBPFSys

// Expected sizes and offsets are the kernel's offsetof()/sizeof() values for `union bpf_attr`
// members and the info structs, read once from the BTF of the Linux 6.18 kernel these tests were
// written on (/sys/kernel/btf/vmlinux); the fields that exist in the 6.1 uapi header
// (/usr/include/linux/bpf.h) were cross-checked with a C program using offsetof. Sizes include the
// kernel's trailing padding.

private func expectLayout<T>(
    _ type: T.Type, size: Int, _ offsets: [(PartialKeyPath<T>, Int)],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(MemoryLayout<T>.size == size, "size of \(T.self)", sourceLocation: sourceLocation)
    #expect(MemoryLayout<T>.stride == size, "stride of \(T.self)", sourceLocation: sourceLocation)
    for (index, (path, offset)) in offsets.enumerated() {
        #expect(
            MemoryLayout<T>.offset(of: path) == offset, "\(T.self) field #\(index) at \(offset)",
            sourceLocation: sourceLocation)
    }
}

@Suite("Attribute and info struct layouts match the kernel's")
struct LayoutTests {
    @Test func mapAttributes() {
        expectLayout(
            MapCreateAttr.self, size: 96,
            [
                (\.mapType, 0), (\.keySize, 4), (\.valueSize, 8), (\.maxEntries, 12), (\.mapFlags, 16),
                (\.innerMapFD, 20), (\.numaNode, 24), (\.mapName, 28), (\.mapIfindex, 44), (\.btfFD, 48),
                (\.btfKeyTypeID, 52), (\.btfValueTypeID, 56), (\.btfVmlinuxValueTypeID, 60), (\.mapExtra, 64),
                (\.valueTypeBTFObjFD, 72), (\.mapTokenFD, 76), (\.exclProgHash, 80), (\.exclProgHashSize, 88),
            ])
        expectLayout(MapElemAttr.self, size: 32, [(\.mapFD, 0), (\.key, 8), (\.value, 16), (\.flags, 24)])
        expectLayout(MapGetNextKeyAttr.self, size: 32, [(\.mapFD, 0), (\.key, 8), (\.nextKey, 16), (\.flags, 24)])
        expectLayout(
            MapBatchAttr.self, size: 56,
            [
                (\.inBatch, 0), (\.outBatch, 8), (\.keys, 16), (\.values, 24), (\.count, 32), (\.mapFD, 36),
                (\.elemFlags, 40), (\.flags, 48),
            ])
        expectLayout(MapFreezeAttr.self, size: 4, [(\.mapFD, 0)])
        #expect(MemoryLayout<BPFObjectName>.size == 16)
        #expect(MemoryLayout<BPFObjectName>.alignment == 1)
    }

    @Test func programAttributes() {
        expectLayout(
            ProgLoadAttr.self, size: 168,
            [
                (\.progType, 0), (\.insnCnt, 4), (\.insns, 8), (\.license, 16), (\.logLevel, 24), (\.logSize, 28),
                (\.logBuf, 32), (\.kernVersion, 40), (\.progFlags, 44), (\.progName, 48), (\.progIfindex, 64),
                (\.expectedAttachType, 68), (\.progBTFFD, 72), (\.funcInfoRecSize, 76), (\.funcInfo, 80),
                (\.funcInfoCnt, 88), (\.lineInfoRecSize, 92), (\.lineInfo, 96), (\.lineInfoCnt, 104),
                (\.attachBTFID, 108), (\.attachProgFD, 112), (\.coreReloCnt, 116), (\.fdArray, 120),
                (\.coreRelos, 128), (\.coreReloRecSize, 136), (\.logTrueSize, 140), (\.progTokenFD, 144),
                (\.fdArrayCnt, 148), (\.signature, 152), (\.signatureSize, 160), (\.keyringID, 164),
            ])
        expectLayout(
            ProgTestRunAttr.self, size: 80,
            [
                (\.progFD, 0), (\.retval, 4), (\.dataSizeIn, 8), (\.dataSizeOut, 12), (\.dataIn, 16),
                (\.dataOut, 24), (\.repeat, 32), (\.duration, 36), (\.ctxSizeIn, 40), (\.ctxSizeOut, 44),
                (\.ctxIn, 48), (\.ctxOut, 56), (\.flags, 64), (\.cpu, 68), (\.batchSize, 72),
            ])
        expectLayout(
            ProgAttachAttr.self, size: 32,
            [
                (\.targetFD, 0), (\.attachBPFFD, 4), (\.attachType, 8), (\.attachFlags, 12), (\.replaceBPFFD, 16),
                (\.relativeFD, 20), (\.expectedRevision, 24),
            ])
        expectLayout(
            ProgQueryAttr.self, size: 64,
            [
                (\.targetFD, 0), (\.attachType, 4), (\.queryFlags, 8), (\.attachFlags, 12), (\.progIDs, 16),
                (\.progCnt, 24), (\.progAttachFlags, 32), (\.linkIDs, 40), (\.linkAttachFlags, 48), (\.revision, 56),
            ])
        expectLayout(ProgBindMapAttr.self, size: 12, [(\.progFD, 0), (\.mapFD, 4), (\.flags, 8)])
    }

    @Test func objectAttributes() {
        expectLayout(ObjPinAttr.self, size: 24, [(\.pathname, 0), (\.bpfFD, 8), (\.fileFlags, 12), (\.pathFD, 16)])
        expectLayout(
            ObjectIDAttr.self, size: 16, [(\.startID, 0), (\.nextID, 4), (\.openFlags, 8), (\.fdByIDTokenFD, 12)])
        expectLayout(ObjGetInfoByFDAttr.self, size: 16, [(\.bpfFD, 0), (\.infoLen, 4), (\.info, 8)])
        expectLayout(
            BTFLoadAttr.self, size: 40,
            [
                (\.btf, 0), (\.btfLogBuf, 8), (\.btfSize, 16), (\.btfLogSize, 20), (\.btfLogLevel, 24),
                (\.btfLogTrueSize, 28), (\.btfFlags, 32), (\.btfTokenFD, 36),
            ])
        expectLayout(EnableStatsAttr.self, size: 4, [(\.type, 0)])
        expectLayout(TokenCreateAttr.self, size: 8, [(\.flags, 0), (\.bpffsFD, 4)])
    }

    @Test func linkAttributes() {
        expectLayout(
            LinkCreateAttr.self, size: 64,
            [(\.progFD, 0), (\.targetFD, 4), (\.attachType, 8), (\.flags, 12), (\.targetBTFID, 16)])
        expectLayout(LinkCreateIterAttr.self, size: 64, [(\.flags, 12), (\.iterInfo, 16), (\.iterInfoLen, 24)])
        expectLayout(LinkCreatePerfEventAttr.self, size: 64, [(\.flags, 12), (\.bpfCookie, 16)])
        expectLayout(
            LinkCreateKprobeMultiAttr.self, size: 64,
            [(\.kprobeMultiFlags, 16), (\.count, 20), (\.syms, 24), (\.addrs, 32), (\.cookies, 40)])
        expectLayout(LinkCreateTracingAttr.self, size: 64, [(\.targetBTFID, 16), (\.cookie, 24)])
        expectLayout(
            LinkCreateNetfilterAttr.self, size: 64,
            [(\.pf, 16), (\.hooknum, 20), (\.priority, 24), (\.netfilterFlags, 28)])
        expectLayout(LinkCreateTCXAttr.self, size: 64, [(\.relativeFD, 16), (\.expectedRevision, 24)])
        expectLayout(
            LinkCreateUprobeMultiAttr.self, size: 64,
            [
                (\.path, 16), (\.offsets, 24), (\.refCtrOffsets, 32), (\.cookies, 40), (\.count, 48),
                (\.uprobeMultiFlags, 52), (\.pid, 56),
            ])
        expectLayout(
            LinkUpdateAttr.self, size: 16, [(\.linkFD, 0), (\.newProgFD, 4), (\.flags, 8), (\.oldProgFD, 12)])
        expectLayout(LinkDetachAttr.self, size: 4, [(\.linkFD, 0)])
        expectLayout(IterCreateAttr.self, size: 8, [(\.linkFD, 0), (\.flags, 4)])
        expectLayout(RawTracepointOpenAttr.self, size: 24, [(\.name, 0), (\.progFD, 8), (\.cookie, 16)])
        expectLayout(
            TaskFDQueryAttr.self, size: 48,
            [
                (\.pid, 0), (\.fd, 4), (\.flags, 8), (\.bufLen, 12), (\.buf, 16), (\.progID, 24), (\.fdType, 28),
                (\.probeOffset, 32), (\.probeAddr, 40),
            ])
        expectLayout(
            ProgStreamReadByFDAttr.self, size: 24,
            [(\.streamBuf, 0), (\.streamBufLen, 8), (\.streamID, 12), (\.progFD, 16)])
    }

    /// Union members other than the stored one read and write the stored bytes.
    @Test func unionAccessorsShareStorage() {
        var ids = ObjectIDAttr()
        ids.linkID = 7
        #expect(ids.startID == 7)
        #expect(ids.id == 7)
        #expect(ids.progID == 7)

        var iter = IterLinkInfo()
        iter.taskTID = 0x1122_3344
        iter.taskPID = 0x5566_7788
        #expect(iter.taskTID == 0x1122_3344)
        #expect(iter.taskPID == 0x5566_7788)
        #expect(iter.cgroupID != 0)
        #expect(iter.order == 0)

        var element = MapElemAttr()
        element.nextKey = 42
        #expect(element.value == 42)
    }

    @Test func programInfo() {
        expectLayout(
            ProgInfo.self, size: 232,
            [
                (\.type, 0), (\.id, 4), (\.tag, 8), (\.jitedProgLen, 16), (\.xlatedProgLen, 20),
                (\.jitedProgInsns, 24), (\.xlatedProgInsns, 32), (\.loadTime, 40), (\.createdByUID, 48),
                (\.nrMapIDs, 52), (\.mapIDs, 56), (\.name, 64), (\.ifindex, 80), (\.gplCompatible, 84),
                (\.netnsDev, 88), (\.netnsIno, 96), (\.nrJitedKsyms, 104), (\.nrJitedFuncLens, 108),
                (\.jitedKsyms, 112), (\.jitedFuncLens, 120), (\.btfID, 128), (\.funcInfoRecSize, 132),
                (\.funcInfo, 136), (\.nrFuncInfo, 144), (\.nrLineInfo, 148), (\.lineInfo, 152),
                (\.jitedLineInfo, 160), (\.nrJitedLineInfo, 168), (\.lineInfoRecSize, 172),
                (\.jitedLineInfoRecSize, 176), (\.nrProgTags, 180), (\.progTags, 184), (\.runTimeNs, 192),
                (\.runCnt, 200), (\.recursionMisses, 208), (\.verifiedInsns, 216), (\.attachBTFObjID, 220),
                (\.attachBTFID, 224),
            ])
    }

    @Test func mapAndBTFInfo() {
        expectLayout(
            MapInfo.self, size: 104,
            [
                (\.type, 0), (\.id, 4), (\.keySize, 8), (\.valueSize, 12), (\.maxEntries, 16), (\.mapFlags, 20),
                (\.name, 24), (\.ifindex, 40), (\.btfVmlinuxValueTypeID, 44), (\.netnsDev, 48), (\.netnsIno, 56),
                (\.btfID, 64), (\.btfKeyTypeID, 68), (\.btfValueTypeID, 72), (\.btfVmlinuxID, 76),
                (\.mapExtra, 80), (\.hash, 88), (\.hashSize, 96),
            ])
        expectLayout(
            BTFInfo.self, size: 32,
            [(\.btf, 0), (\.btfSize, 8), (\.id, 12), (\.name, 16), (\.nameLen, 24), (\.kernelBTF, 28)])
    }

    /// Offsets of the union members are relative to the union, which starts at byte 16 of
    /// `struct bpf_link_info` (the BTF numbers minus 16).
    @Test func linkInfo() {
        expectLayout(LinkInfo.self, size: 64, [(\.type, 0), (\.id, 4), (\.progID, 8), (\.extra, 16)])
        expectLayout(RawTracepointLinkInfo.self, size: 24, [(\.tpName, 0), (\.tpNameLen, 8), (\.cookie, 16)])
        expectLayout(
            TracingLinkInfo.self, size: 24,
            [(\.attachType, 0), (\.targetObjID, 4), (\.targetBTFID, 8), (\.cookie, 16)])
        expectLayout(CgroupLinkInfo.self, size: 16, [(\.cgroupID, 0), (\.attachType, 8)])
        expectLayout(
            IterLinkInfo.self, size: 32,
            [(\.targetName, 0), (\.targetNameLen, 8), (\.mapID, 12), (\.cgroupID, 16), (\.order, 24)])
        expectLayout(NetNsLinkInfo.self, size: 8, [(\.netnsIno, 0), (\.attachType, 4)])
        expectLayout(XDPLinkInfo.self, size: 4, [(\.ifindex, 0)])
        expectLayout(StructOpsLinkInfo.self, size: 4, [(\.mapID, 0)])
        expectLayout(NetfilterLinkInfo.self, size: 16, [(\.pf, 0), (\.hooknum, 4), (\.priority, 8), (\.flags, 12)])
        expectLayout(
            KprobeMultiLinkInfo.self, size: 32,
            [(\.addrs, 0), (\.count, 8), (\.flags, 12), (\.missed, 16), (\.cookies, 24)])
        expectLayout(
            UprobeMultiLinkInfo.self, size: 48,
            [
                (\.path, 0), (\.offsets, 8), (\.refCtrOffsets, 16), (\.cookies, 24), (\.pathSize, 32),
                (\.count, 36), (\.flags, 40), (\.pid, 44),
            ])
        expectLayout(
            PerfEventUprobeLinkInfo.self, size: 40,
            [(\.type, 0), (\.fileName, 8), (\.nameLen, 16), (\.offset, 20), (\.cookie, 24), (\.refCtrOffset, 32)])
        expectLayout(
            PerfEventKprobeLinkInfo.self, size: 48,
            [
                (\.type, 0), (\.funcName, 8), (\.nameLen, 16), (\.offset, 20), (\.addr, 24), (\.missed, 32),
                (\.cookie, 40),
            ])
        expectLayout(
            PerfEventTracepointLinkInfo.self, size: 32, [(\.type, 0), (\.tpName, 8), (\.nameLen, 16), (\.cookie, 24)])
        expectLayout(
            PerfEventEventLinkInfo.self, size: 32, [(\.type, 0), (\.config, 8), (\.eventType, 16), (\.cookie, 24)])
        expectLayout(TCXLinkInfo.self, size: 8, [(\.ifindex, 0), (\.attachType, 4)])
        expectLayout(NetkitLinkInfo.self, size: 8, [(\.ifindex, 0), (\.attachType, 4)])
        expectLayout(SockmapLinkInfo.self, size: 8, [(\.mapID, 0), (\.attachType, 4)])
    }

    @Test func linkInfoExtraRoundTrips() {
        var info = LinkInfo()
        var tracing = TracingLinkInfo()
        tracing.targetBTFID = 77
        tracing.cookie = 0xdead_beef
        info.setExtra(tracing)
        let read = info.extra(as: TracingLinkInfo.self)
        #expect(read.targetBTFID == 77)
        #expect(read.cookie == 0xdead_beef)
    }
}
