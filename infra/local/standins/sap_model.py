"""What the SAP stand-in (sap.py) serves: its own model of three SAP Gateway OData V2 services.

This is the stand-in's contract, written for it: the entity sets it serves, their entity types and
keys, the properties its records carry with their Edm types and facets, the sap: annotations it
enforces, the navigation properties it follows and the function imports it answers. sap.py builds
each service's model and its `$metadata` from the tables below (odata.read_model and
odata.metadata_document), and refuses whatever they do not allow.

The names, types and flags are facts of SAP's published interfaces (the connector in
connectors/sap/ names the same properties). Each type here is a subset of SAP's: only
the properties the seed data, the connector, the stand-in's rules or its tests use, in SAP's
order. tests/standins/test_sap.py holds every line to SAP's own service descriptions where those
files are present (API_PURCHASEORDER_PROCESS_SRV and API_MAINTENANCEORDER: their EDMX; API_EQUIPMENT:
its OpenAPI export), so a property here has the type, length and flags SAP gives it.

Notation (one service per table; `#` starts a comment):

    entity <EntitySet> <EntityType> key <Property>[,<Property>…]
        <Property>  <Type>  [flag…]
        nav <Name>  <target EntitySet>  <1|*>  <here>=<there>[,…]
    complex <ComplexType>
        <Property>  <Type>
    function <FunctionImport>  <HTTP method>  <ComplexType it returns>  <EntityType it acts for>
        <Parameter>  <Type>  [null]

Types: String(<max length>), Decimal(<precision>,<scale>), DateTime, DateTimeOffset, Time, Boolean,
Int64 (all Edm.*). Flags: -create, -update, -filter, -sort (sap:creatable, sap:updatable,
sap:filterable, sap:sortable="false"); unit=<Property> (sap:unit); currency-code and
unit-of-measure (sap:semantics); !null (Nullable="false"; key properties always are). A function
parameter is mandatory unless flagged null.
"""

PURCHASE_ORDERS = """
entity A_PurchaseOrder  A_PurchaseOrderType  key PurchaseOrder
    PurchaseOrder                   String(10)
    CompanyCode                     String(4)
    PurchaseOrderType               String(4)
    PurchasingDocumentDeletionCode  String(1)       -create -update
    PurchasingProcessingStatus      String(2)       -create -update
    CreatedByUser                   String(12)      -create -update
    CreationDate                    DateTime        -create -update
    LastChangeDateTime              DateTimeOffset  -create -update
    Supplier                        String(10)
    Language                        String(2)
    PaymentTerms                    String(4)
    CashDiscount1Days               Decimal(3,0)
    PurchasingOrganization          String(4)
    PurchasingGroup                 String(3)
    PurchaseOrderDate               DateTime
    DocumentCurrency                String(5)       currency-code
    ExchangeRate                    String(12)
    IncotermsClassification         String(3)
    CorrespncExternalReference      String(12)
    CorrespncInternalReference      String(12)
    AddressCityName                 String(40)
    AddressHouseNumber              String(10)
    AddressName                     String(40)
    AddressPostalCode               String(10)
    AddressStreetName               String(60)
    AddressPhoneNumber              String(30)
    AddressRegion                   String(3)
    AddressCountry                  String(3)
    AddressCorrespondenceLanguage   String(2)
    nav to_PurchaseOrderItem        A_PurchaseOrderItem  *  PurchaseOrder=PurchaseOrder

entity A_PurchaseOrderItem  A_PurchaseOrderItemType  key PurchaseOrder,PurchaseOrderItem
    PurchaseOrder                   String(10)
    PurchaseOrderItem               String(5)
    PurchasingDocumentDeletionCode  String(1)       -create -update
    PurchaseOrderItemText           String(40)
    Plant                           String(4)
    MaterialGroup                   String(9)
    PurchasingInfoRecord            String(10)
    OrderQuantity                   Decimal(13,3)   unit=PurchaseOrderQuantityUnit
    PurchaseOrderQuantityUnit       String(3)       unit-of-measure
    OrderPriceUnit                  String(3)       unit-of-measure
    DocumentCurrency                String(5)       -create -update currency-code
    NetPriceAmount                  Decimal(12,3)   unit=DocumentCurrency
    NetPriceQuantity                Decimal(5,0)    unit=OrderPriceUnit
    TaxCode                         String(2)
    OverdelivTolrtdLmtRatioInPct    Decimal(3,1)
    UnderdelivTolrtdLmtRatioInPct   Decimal(3,1)
    IsCompletelyDelivered           Boolean
    PurchaseOrderItemCategory       String(1)
    GoodsReceiptIsExpected          Boolean
    InvoiceIsExpected               Boolean
    ItemNetWeight                   Decimal(13,3)   unit=ItemWeightUnit
    ItemWeightUnit                  String(3)       unit-of-measure
    IncotermsClassification         String(3)
    PurchaseRequisitionItem         String(5)
    Material                        String(40)
    DeliveryAddressName             String(40)
    DeliveryAddressStreetName       String(60)
    DeliveryAddressCityName         String(40)
    DeliveryAddressPostalCode       String(10)
    DeliveryAddressCountry          String(3)
    nav to_PurchaseOrder            A_PurchaseOrder  1  PurchaseOrder=PurchaseOrder
"""

MAINTENANCE_ORDERS = """
entity MaintenanceOrder  MaintenanceOrderType  key MaintenanceOrder
    MaintenanceOrder                String(12)      -update
    MaintOrderRoutingNumber         String(10)
    MaintenanceOrderType            String(4)       -update
    MaintenanceOrderDesc            String(40)
    MaintOrdBasicStartDateTime      DateTimeOffset
    MaintOrdBasicEndDateTime        DateTimeOffset
    MaintOrdBasicStartDate          DateTime        -create -update
    MaintOrdBasicStartTime          Time            -create -update
    MaintOrdBasicEndDate            DateTime        -create -update
    MaintOrdBasicEndTime            Time            -create -update
    MaintOrdSchedldBscStrtDateTime  DateTimeOffset  -create -update
    MaintOrdSchedldBscEndDateTime   DateTimeOffset  -create -update
    ScheduledBasicStartDate         DateTime        -create -update
    ScheduledBasicStartTime         Time            -create -update
    ScheduledBasicEndDate           DateTime        -create -update
    ScheduledBasicEndTime           Time            -create -update
    MaintenanceNotification         String(12)
    ControllingArea                 String(4)       -create -update
    MainWorkCenterInternalID        String(8)
    MainWorkCenterTypeCode          String(2)       -create -update
    MainWorkCenter                  String(8)
    MainWorkCenterPlant             String(4)
    WorkCenterInternalID            String(8)
    MaintenancePlanningPlant        String(4)       -update
    MaintenancePlant                String(4)       -update
    CompanyCode                     String(4)       -create -update
    CostCenter                      String(10)
    Equipment                       String(18)
    EquipmentName                   String(40)      -create -update
    FunctionalLocation              String(30)
    MaintenanceOrderPlanningCode    String(1)
    MaintenancePlannerGroup         String(3)
    MaintenanceActivityType         String(3)
    MaintPriority                   String(1)
    MaintPriorityType               String(2)       -create -update
    OrderProcessingGroup            String(2)       -create -update
    ProfitCenter                    String(10)
    ResponsibleCostCenter           String(10)
    WBSElementInternalID            String(8)
    ControllingObjectClass          String(2)
    MaintenanceOrderInternalID      String(22)      -create -update
    MaintenanceObjectList           Int64           -create -update
    MaintObjectLocAcctAssgmtNmbr    String(12)      -create -update
    BasicSchedulingType             String(1)
    LastChangeDateTime              DateTimeOffset  -create -update
    CreatedByUser                   String(12)      -create -update
    ControllingSettlementProfile    String(6)
    SystemStatusText                String(40)      -create -update -sort -filter
    TechnicalObject                 String(40)      -create -update -sort
    TechnicalObjectLabel            String(40)      -create -update -sort
    TechObjIsEquipOrFuncnlLoc       String(20)      -create -update -sort

complex DummyFunctionImportResult
    IsInvalid                       Boolean

# The status changes the stand-in carries out (sap.MO_TRANSITIONS); the connector sends only
# MaintenanceOrder.
function ReleaseMaintenanceOrder  POST  DummyFunctionImportResult  MaintenanceOrderType
    MaintenanceOrder                String(12)

function SetMaintOrdToTechCompleted  POST  DummyFunctionImportResult  MaintenanceOrderType
    MaintenanceOrder                String(12)
    MaintOrderReferenceDateTime     DateTimeOffset  null
    AssignedMaintNotifIsToBeClosed  Boolean         null

function ResetMaintOrdStsTechCompleted  POST  DummyFunctionImportResult  MaintenanceOrderType
    MaintenanceOrder                String(12)
    AssgdMaintNotifIsToBePutInProc  Boolean         null

function SetMaintOrderStatusToClosed  POST  DummyFunctionImportResult  MaintenanceOrderType
    MaintenanceOrder                String(12)
    MaintOrderReferenceDateTime     DateTimeOffset  null
    AssignedMaintNotifIsToBeClosed  Boolean         null
"""

# SAP publishes this service's interface as OpenAPI, which carries no sap:filterable; every
# property here is filterable.
EQUIPMENT = """
entity Equipment  EquipmentType  key Equipment,ValidityEndDate
    Equipment                       String(18)      -update
    ValidityEndDate                 DateTime        -create -update
    ValidityStartDate               DateTime
    EquipmentName                   String(40)
    EquipmentCategory               String(1)
    TechnicalObjectType             String(10)
    GrossWeight                     Decimal(13,3)
    GrossWeightUnit                 String(3)
    AssetManufacturerName           String(30)
    ManufacturerPartTypeName        String(20)
    ManufacturerCountry             String(3)
    ConstructionYear                String(4)
    ConstructionMonth               String(2)
    ManufacturerSerialNumber        String(30)
    MaintenancePlant                String(4)
    PlantSection                    String(3)
    CompanyCode                     String(4)
    MaintenancePlanningPlant        String(4)
    MaintenancePlannerGroup         String(3)
    FunctionalLocation              String(30)      -create -update
    SuperordinateEquipment          String(18)
    CreationDate                    DateTime        -create -update
    LastChangeDateTime              DateTimeOffset  -create -update
    EquipmentIsAvailable            Boolean         -create -update
    EquipmentIsMarkedForDeletion    Boolean         -create -update
    EquipmentIsInactive             Boolean         -create -update
"""

# (service, schema namespace, application component its errors name, model)
SERVICES = (
    ("API_PURCHASEORDER_PROCESS_SRV", "API_PURCHASEORDER_PROCESS_SRV", "MM-PUR-PO", PURCHASE_ORDERS),
    ("API_MAINTENANCEORDER", "cds_api_maintenanceorder", "PM-WOC-MO", MAINTENANCE_ORDERS),
    ("API_EQUIPMENT", "cds_api_equipment", "PM-EQM-EQ", EQUIPMENT),
)
