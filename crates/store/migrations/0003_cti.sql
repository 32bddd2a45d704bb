-- CUCM's "Allow Control of Device from CTI": a device with this off is restricted, and a CTI
-- DeviceOpenRequest for it is refused with CTIERR_ACCESS_TO_DEVICE_DENIED.
ALTER TABLE device ADD COLUMN allow_cti_control BOOLEAN NOT NULL DEFAULT TRUE;
